package import CharterCore
package import CharterJSON
package import Foundation

/// Turns policy document bodies into Core values. The conversions to the API's generated types are the HTTP
/// layer's (`PolicyAPI+Conversions.swift` in CharterServer).
///
/// Validation is Core's strict decoder; a rejected document is a ``PolicyError/invalidDocument(_:of:)``, a 422
/// whose `field` is the pointer of the first problem and whose `errors` lists them all.
package enum PolicyDocuments {
    /// Members of a subsetting resource that clients may send back on a write and that are ignored.
    static let readOnlySubsettingMembers = ["id", "priority", "version", "created_at", "updated_at"]

    /// A whole settings document, and the sections it contained.
    package static func settings(from body: Data) throws(PolicyError) -> (Settings, Set<Settings.Section>) {
        do throws(DocumentError) {
            return try Settings.decodeNamingSections(from: body)
        } catch {
            throw .invalidDocument(error, of: "settings document")
        }
    }

    /// A subsetting document, or a patch of `current` (each top-level member replaces the current one).
    ///
    /// Read-only members of the resource are dropped first, so a client may send back what it read.
    ///
    /// - Returns: The subsetting and the document it was decoded from (for pointers into its scope).
    package static func subsetting(
        from body: Data,
        id: SubsettingID,
        patching current: Subsetting? = nil
    ) throws(PolicyError) -> (Subsetting, JSONValue) {
        do throws(DocumentError) {
            guard case .object(var members) = try JSONValue.parseDocument(body) else {
                throw DocumentError(issues: [DocumentIssue(pointer: "", message: "must be an object")])
            }
            for member in readOnlySubsettingMembers {
                members[member] = nil
            }
            if let current, case .object(let currentMembers) = current.json {
                members = currentMembers.merging(members) { _, patched in patched }
            }
            let document = JSONValue.object(members)
            return (try Subsetting.decode(from: document.canonicalData, id: id), document)
        } catch {
            throw .invalidDocument(error, of: "subsetting document")
        }
    }

    /// Core's verdict on a document body the generated decoder refused (a wrong type, an unknown value), so
    /// that such a body gets the same 422, listing every issue, as one Core refuses itself.
    ///
    /// A patch is checked on top of a minimal valid document, so only its own members can be at fault.
    ///
    /// - Returns: The refusal, or `nil` when Core accepts the body.
    package static func rejection(ofUndecodable body: Data, patch: Bool, settings: Bool) -> PolicyError? {
        do throws(DocumentError) {
            if settings {
                _ = try Settings.decode(from: body)
                return nil
            }
            guard case .object(var members) = try JSONValue.parseDocument(body) else {
                throw DocumentError(issues: [DocumentIssue(pointer: "", message: "must be an object")])
            }
            for member in readOnlySubsettingMembers { members[member] = nil }
            if patch {
                let base: [String: JSONValue] = [
                    "schema_version": .integer(1), "name": .string("patch"), "target": .string("user"),
                    "scope": .object(["groups": .array([.string(UUID().uuidString)])]), "overrides": .object([:]),
                ]
                members = base.merging(members) { _, patched in patched }
            }
            _ = try Subsetting.decode(from: JSONValue.object(members).canonicalData, id: .random())
            return nil
        } catch {
            return .invalidDocument(error, of: settings ? "settings document" : "subsetting document")
        }
    }
}
