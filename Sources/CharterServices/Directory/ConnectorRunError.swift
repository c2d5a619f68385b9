/// Why ``ConnectorSyncService`` refused a connector's call (docs/connector-protocol.md, "Upload", "Finish").
///
/// Each case reads as a refusal; the 409s carry codes of their own (`page-conflict`, `run-closed`,
/// `pages-missing`), which a connector acts on.
package enum ConnectorRunError: RefusalConvertible, Hashable, Sendable {
    /// No such run among this connector's (another tenant's run reads the same): 404.
    case notFound
    /// The run finished, failed or moved to another connector: stop uploading it (409 `run-closed`).
    case runClosed
    /// The service holds a different page under this number (409 `page-conflict`).
    case pageConflict(Int)
    /// `complete` before these pages arrived (409 `pages-missing`).
    case pagesMissing([Int])
    /// The body is larger than the service takes, as sent or decompressed (413).
    case tooLarge(String)
    /// The body is not what the route reads: not gzip or not JSON (400).
    case malformed(String, field: String?)
    /// A value breaks a rule of the page table; `field` is its JSON pointer (422).
    case invalid(String, field: String)
}

extension ConnectorRunError {
    package var refusal: Refusal {
        switch self {
        case .notFound: Refusal(.notFound, "No such run for this connector.", field: "run")
        case .runClosed:
            Refusal(
                .conflict, "The run no longer takes uploads from this connector: it ended or moved to another.",
                code: "run-closed"
            )
        case .pageConflict(let page):
            Refusal(.conflict, "The service holds a different page \(page) of this run.", field: "page", code: "page-conflict")
        case .pagesMissing(let pages):
            Refusal(
                .conflict,
                "Pages \(pages.prefix(50).map(String.init).joined(separator: ", "))"
                    + (pages.count > 50 ? " and \(pages.count - 50) more" : "")
                    + " of this run are missing; upload them and complete again.",
                field: "/pages", code: "pages-missing"
            )
        case .tooLarge(let detail): Refusal(.tooLarge, detail)
        case .malformed(let detail, let field): Refusal(.malformed, detail, field: field)
        case .invalid(let detail, let field): Refusal(.invalid, detail, field: field)
        }
    }
}
