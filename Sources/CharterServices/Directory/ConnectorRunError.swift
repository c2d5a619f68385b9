/// Why ``ConnectorSyncService`` refused a connector's call (docs/connector-protocol.md, "Upload", "Finish").
///
/// The connector routes render each case as a problem document: the 409s carry codes of their own
/// (`page-conflict`, `run-closed`, `pages-missing`), which a connector acts on.
package enum ConnectorRunError: Error, Hashable, Sendable {
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
