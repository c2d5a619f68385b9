package import CharterCore
package import Foundation
import CharterJSON
package import CharterStore

/// What the policy service refuses: documents Core does not accept, scopes naming objects the directory does
/// not have, and orders or positions that do not fit the tenant's subsettings.
package enum PolicyError: RefusalConvertible {
    /// Core's strict decoder refused a document; `what` names it ("settings document", "subsetting document").
    case invalidDocument(DocumentError, of: String)
    /// A subsetting's scope names groups or OUs the tenant's directory does not have (pointers into `scope`).
    case unknownScopeObjects([Refusal.Issue])
    /// The tenant's directory has no such user or computer; `field` is the query parameter.
    case notInDirectory(field: String, ObjectGUID)
    /// A new subsetting's position lies beyond the end of the list.
    case positionOutOfRange(maximum: Int)
    /// A reorder does not name every subsetting exactly once.
    case orderMismatch(SubsettingOrderMismatch)
    /// The global settings have no pre-approved entry with this id.
    case unknownPreApprovedEntry
    /// A new entry names an id another entry has.
    case preApprovedIDTaken(UUID)
    /// A replacement's body names another id than its path.
    case preApprovedIDMismatch
    /// The list already has ``Settings/PreApprovedApplication/maximumCount`` entries.
    case preApprovedListFull

    package var refusal: Refusal {
        switch self {
        case .invalidDocument(let error, let what):
            let issues = error.issues.map { Refusal.Issue(pointer: $0.pointer.description, detail: $0.message) }
            let first = issues.first
            let location = first.map { $0.pointer.isEmpty ? "the document" : $0.pointer } ?? "the document"
            let more = issues.count > 1 ? " (and \(issues.count - 1) more, listed in errors)" : ""
            return Refusal(
                .invalid, "The \(what) is invalid: \(location) \(first?.detail ?? "is not acceptable")\(more).",
                field: first?.pointer, issues: issues
            )
        case .unknownScopeObjects(let issues):
            let first = issues.first
            return Refusal(
                .invalid,
                "The scope names objects the directory does not have: \(first?.pointer ?? "") \(first?.detail ?? "").",
                field: first?.pointer, issues: issues
            )
        case .notInDirectory(let field, let guid):
            return Refusal(.notFound, "The tenant's directory has no \(field) \(guid).", field: field)
        case .positionOutOfRange(let maximum):
            return Refusal(.invalid, "position must be between 0 and \(maximum).", field: "position")
        case .orderMismatch(.duplicate(let id, let index)):
            return Refusal(.invalid, "Subsetting \(id) is listed more than once.", field: "/ids/\(index)")
        case .orderMismatch(.unknown(let id, let index)):
            return Refusal(.invalid, "The tenant has no subsetting \(id).", field: "/ids/\(index)")
        case .unknownPreApprovedEntry:
            return Refusal(.notFound, "The global settings have no such pre-approved application.", field: "entry")
        case .preApprovedIDTaken(let id):
            return Refusal(
                .invalid, "Another pre-approved application has the id \(id.uuidString.lowercased()).", field: "/id"
            )
        case .preApprovedIDMismatch:
            return Refusal(.invalid, "id must be the entry's id in the path (or be left out).", field: "/id")
        case .preApprovedListFull:
            return Refusal(
                .invalid,
                "pre_approved_applications already has \(Settings.PreApprovedApplication.maximumCount) entries.",
                field: ""
            )
        case .orderMismatch(.missing(let id)):
            return Refusal(
                .invalid, "Subsetting \(id) is missing from the order; list every subsetting.", field: "/ids"
            )
        }
    }
}
