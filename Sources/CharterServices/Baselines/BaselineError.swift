package import CharterCore
import CharterJSON
package import CharterStore
package import Foundation

/// What the baseline service refuses.
package enum BaselineError: RefusalConvertible {
    /// The MSP already has a baseline of this name.
    case duplicateName(String)
    /// A baseline still assigned to tenants cannot be deleted; unassign it first.
    case stillAssigned(tenants: Int)
    /// An assignment names a baseline the MSP does not have (`index` in `ids`).
    case unknownBaseline(BaselineID, index: Int)
    /// An assignment names a baseline twice.
    case duplicateAssignment(BaselineID, index: Int)
    /// An assignment lists more baselines than a tenant may have.
    case tooManyAssigned(Int)
    /// The library already holds this entry.
    case alreadyInLibrary(fileName: String?)
    /// The library holds the most entries a list may.
    case libraryFull

    package var refusal: Refusal {
        switch self {
        case .duplicateName(let name):
            Refusal(.conflict, "The MSP already has a baseline named '\(name)'.", field: "/name")
        case .stillAssigned(let tenants):
            Refusal(
                .conflict,
                "The baseline is assigned to \(tenants) tenant\(tenants == 1 ? "" : "s"); remove it from their "
                    + "baselines first (PUT /v1/tenants/{tenant}/baselines)."
            )
        case .unknownBaseline(let id, let index):
            Refusal(.invalid, "The MSP has no baseline \(id).", field: "/ids/\(index)")
        case .duplicateAssignment(let id, let index):
            Refusal(.invalid, "Baseline \(id) is listed more than once.", field: "/ids/\(index)")
        case .tooManyAssigned(let count):
            Refusal(
                .invalid, "A tenant may have at most \(Baseline.maximumAssigned) baselines assigned, not \(count).",
                field: "/ids"
            )
        case .alreadyInLibrary(let fileName):
            Refusal(
                .conflict,
                fileName.map { "The baseline's library already holds this entry for '\($0)'." }
                    ?? "The baseline's library already holds this entry."
            )
        case .libraryFull:
            Refusal(
                .invalid,
                "The baseline's library holds \(Settings.PreApprovedApplication.maximumCount) entries, the most it may.",
                field: "/pre_approved_applications"
            )
        }
    }
}

/// Turns baseline bodies into Core values (the counterpart of ``PolicyDocuments``).
package enum BaselineDocuments {
    /// Members of a baseline resource that clients may send back on a write and that are ignored.
    static let readOnlyMembers = ["id", "version", "created_at", "updated_at"]

    /// A baseline document; read-only members of the resource are dropped first.
    ///
    /// - Throws: ``PolicyError/invalidDocument(_:of:)`` (422 listing every problem).
    package static func baseline(from body: Data, id: BaselineID) throws(PolicyError) -> Baseline {
        do throws(DocumentError) {
            guard case .object(var members) = try JSONValue.parseDocument(body) else {
                throw DocumentError(issues: [DocumentIssue(pointer: "", message: "must be an object")])
            }
            for member in readOnlyMembers { members[member] = nil }
            return try Baseline.decode(from: JSONValue.object(members).canonicalData, id: id)
        } catch {
            throw .invalidDocument(error, of: "baseline document")
        }
    }

    /// Core's verdict on a baseline body the generated decoder refused (a wrong type, an unknown value), so such
    /// a body gets the same 422, listing every issue, as one Core refuses itself.
    ///
    /// - Returns: The refusal, or `nil` when Core accepts the body.
    package static func rejection(ofUndecodable body: Data) -> PolicyError? {
        do throws(PolicyError) {
            _ = try baseline(from: body, id: .random())
            return nil
        } catch {
            return error
        }
    }

    /// One library entry (a `pre_approved_applications` entry).
    ///
    /// - Throws: ``PolicyError/invalidDocument(_:of:)``.
    package static func libraryEntry(from body: Data) throws(PolicyError) -> Settings.PreApprovedApplication {
        do throws(DocumentError) {
            return try Baseline.decodeLibraryEntry(from: body)
        } catch {
            throw .invalidDocument(error, of: "pre-approved application")
        }
    }
}

extension StoredBaseline {
    /// What the audit log keeps of a baseline: id, version and the whole document.
    package var auditSnapshot: String {
        let document = JSONValue.object([
            "id": .string(baseline.id.description),
            "version": .integer(version),
            "document": baseline.json,
        ])
        return String(decoding: document.canonicalData, as: UTF8.self)
    }

    /// What the audit log keeps of a tenant's assignment: the baseline ids in order.
    package static func assignmentSnapshot(_ ids: [BaselineID]) -> String {
        let document = JSONValue.object(["baselines": .array(ids.map { .string($0.description) })])
        return String(decoding: document.canonicalData, as: UTF8.self)
    }
}
