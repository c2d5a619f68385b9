import CharterCore
import CharterJSON
import Foundation
import OpenAPIRuntime

/// Turns policy document bodies into Core values, and Core values into response JSON.
///
/// Validation is Core's strict decoder; a rejected document becomes a 422 whose `field` is the pointer of the
/// first problem and whose `errors` lists them all.
enum PolicyDocuments {
    /// Members of a subsetting resource that clients may send back on a write and that are ignored.
    static let readOnlySubsettingMembers = ["id", "priority", "version", "created_at", "updated_at"]

    /// A whole settings document.
    static func settings(from body: Data) throws -> Settings {
        do {
            return try Settings.decode(from: body)
        } catch {
            throw rejection(error, of: "settings document")
        }
    }

    /// A subsetting document, or a patch of `current` (each top-level member replaces the current one).
    ///
    /// Read-only members of the resource are dropped first, so a client may send back what it read.
    ///
    /// - Returns: The subsetting and the document it was decoded from (for pointers into its scope).
    static func subsetting(
        from body: Data,
        id: SubsettingID,
        patching current: Subsetting? = nil
    ) throws -> (Subsetting, JSONValue) {
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
            throw rejection(error, of: "subsetting document")
        }
    }

    /// Core's verdict on a document body the generated decoder refused (a wrong type, an unknown value), so
    /// that such a body gets the same 422, listing every issue, as one Core refuses itself.
    ///
    /// A patch is checked on top of a minimal valid document, so only its own members can be at fault.
    ///
    /// - Returns: The 422 problem, or `nil` when Core accepts the body.
    static func rejection(ofUndecodable body: Data, patch: Bool, settings: Bool) -> Problem? {
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
            return rejection(error, of: settings ? "settings document" : "subsetting document")
        }
    }

    /// The 422 problem for a rejected document.
    static func rejection(_ error: DocumentError, of what: String) -> Problem {
        let issues = error.issues.map { Problem.Issue(pointer: $0.pointer.description, detail: $0.message) }
        let first = issues.first
        let location = first.map { $0.pointer.isEmpty ? "the document" : $0.pointer } ?? "the document"
        let more = issues.count > 1 ? " (and \(issues.count - 1) more, listed in errors)" : ""
        return Problem(
            .validationFailed,
            "The \(what) is invalid: \(location) \(first?.detail ?? "is not acceptable")\(more).",
            field: first?.pointer,
            issues: issues
        )
    }

    /// A settings document as the generated type: Core's canonical encoding (every field written out) read
    /// back through the schema, so an answer cannot drift from the document's description of it.
    static func settingsDocument(_ settings: Settings) throws -> Components.Schemas.SettingsDocument {
        try JSONDecoder().decode(Components.Schemas.SettingsDocument.self, from: settings.json.canonicalData)
    }

    /// A JSON object of Core's document tree as the generated types' free-form object.
    static func object(_ value: JSONValue) throws -> OpenAPIObjectContainer {
        guard case .object(let members) = value else { return OpenAPIObjectContainer() }
        return try OpenAPIObjectContainer(unvalidatedValue: members.mapValues(plain))
    }

    private static func plain(_ value: JSONValue) -> (any Sendable)? {
        switch value {
        case .null: nil
        case .bool(let bool): bool
        case .integer(let integer): Int(integer)
        case .number(let number): number
        case .string(let string): string
        case .array(let values): values.map(plain)
        case .object(let members): members.mapValues(plain)
        }
    }
}
