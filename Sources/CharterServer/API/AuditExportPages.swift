import CharterCore
import CharterStore
import Foundation

/// The body of an audit export (`?format=csv|jsonl`), read one page per `next()`.
///
/// Nothing is read ahead of what the response writer has taken: each page is fetched (in its own tenant
/// transaction) only when the previous one was handed on, so an export holds at most one page in memory
/// however long the log and however slow the client.
struct AuditExportPages: AsyncSequence, Sendable {
    typealias Element = ArraySlice<UInt8>

    /// Events per page (and per transaction) of an export.
    static let defaultPageSize = 500

    let format: AuditExport.Format
    let pageSize: Int
    /// The events after a sequence number, oldest first, at most `limit` of them.
    let fetch: @Sendable (_ after: Int64, _ limit: Int) async throws -> [AuditEvent]

    struct AsyncIterator: AsyncIteratorProtocol {
        let pages: AuditExportPages
        var after: Int64 = 0
        var startedBody = false
        var isFinished = false

        mutating func next() async throws -> ArraySlice<UInt8>? {
            guard !isFinished else { return nil }
            if !startedBody {
                startedBody = true
                if pages.format == .csv { return ArraySlice(AuditExport.csvHeader.utf8) }
            }
            let events = try await pages.fetch(after, pages.pageSize)
            guard let last = events.last else {
                isFinished = true
                return nil
            }
            // A short page is the last one: no query to learn that nothing follows.
            isFinished = events.count < pages.pageSize
            after = last.sequence
            var chunk = ""
            for event in events { chunk += try AuditExport.line(event, as: pages.format) }
            return ArraySlice(chunk.utf8)
        }
    }

    func makeAsyncIterator() -> AsyncIterator { AsyncIterator(pages: self) }
}
