package import Logging
import PostgresNIO

/// The change feed's `LISTEN`, on a connection of its own (of ``Database/listenClient`` when there is one): the
/// notifications of ``ChangeFeedRepository/channel`` (each names the tenant and sequence number of an appended
/// entry) and reads on that same connection.
///
/// A notification's read runs on the listening connection, so hints never wait for the pool, which busy
/// requests can hold entirely (docs/architecture.md, "Real time").
package struct ChangeFeedListener: Sendable {
    let database: Database
    let connection: PostgresConnection

    /// Reads on the listening connection, outside a transaction and without a tenant (the cross-tenant feed
    /// functions only).
    package func read<Result: Sendable>(
        logger: Logger, _ body: (Transaction) async throws -> Result
    ) async throws -> Result {
        try await database.readWithoutTenant(on: connection, logger: logger, body)
    }
}

extension Database {
    /// Listens on the change feed until `body` returns, the connection breaks or the task is cancelled.
    ///
    /// - Parameter body: called once listening, with the listener and the notified entries (`nil` for a batch of
    ///   several tenants', or a payload that names none).
    /// - Throws: what leasing, listening or `body` throws; a broken connection ends the notifications with an
    ///   error, and the caller listens again.
    package func listenToChangeFeed(
        _ body: (ChangeFeedListener, any AsyncSequence<ChangeFeedNotification?, any Error>) async throws -> Void
    ) async throws {
        try await (listenClient ?? client).withOpenConnection { connection in
            try await connection.listen(on: ChangeFeedRepository.channel) { notifications in
                try await body(
                    ChangeFeedListener(database: self, connection: connection),
                    notifications.map { ChangeFeedNotification(payload: $0.payload) }
                )
            }
        }
    }
}
