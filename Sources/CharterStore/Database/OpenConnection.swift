package import Logging
package import PostgresNIO

// PostgresNIO 1.33 writes a statement to its connection without a write promise: on a connection that has
// already closed, the statement is dropped and its caller waits forever. The pool can lend such a connection,
// because it hears of a close only after the channel closed (`pg_terminate_backend`, a server restart, a
// failover); a transaction can also find its connection closed between two statements. So every lease and
// every statement of the service goes through here and refuses a closed connection instead. The check and the
// write must happen in one turn of the connection's event loop, where a close also happens: a statement is
// started from an actor on that loop (PostgresNIO's `query` runs on its caller's executor up to the write).
// docs/operations.md, "Database connections".

extension PostgresClient {
    /// How often ``withOpenConnection(_:)`` leases again after being lent a closed connection.
    static let openLeaseAttempts = 20

    /// Leases a connection for `body`; one that is already closed goes back to the pool and another is leased.
    ///
    /// - Throws: ``StoreError/unavailable`` when every lease in ``openLeaseAttempts`` was closed or the pool
    ///   could not lend one (it is shutting down, or timed out); otherwise what `body` throws.
    package func withOpenConnection<Result: Sendable>(
        _ body: (PostgresConnection) async throws -> Result
    ) async throws -> Result {
        for attempt in 1...Self.openLeaseAttempts {
            var leased = false
            let outcome: Result?
            do {
                outcome = try await withConnection { connection in
                    leased = true
                    guard !connection.isClosed else { return nil }
                    return try await body(connection)
                }
            } catch where !leased && !(error is CancellationError) {
                // The pool's own errors (`ConnectionPoolError`, not mapped by PostgresNIO 1.33 for a lease): a
                // replica shutting down answers 503, which a load balancer retries elsewhere, not 500.
                throw StoreError.unavailable
            }
            if let outcome { return outcome }
            // The pool removes a closed connection once it hears of the close: give it that moment.
            try await Task.sleep(for: .milliseconds(5 * attempt))
        }
        throw StoreError.unavailable
    }
}

extension PostgresConnection {
    /// Runs one statement; a connection that has closed throws ``StoreError/unavailable`` instead of hanging.
    @discardableResult
    package func statement(_ query: PostgresQuery, logger: Logger) async throws -> PostgresRowSequence {
        try await StatementStart(eventLoop: eventLoop).run(query, on: self, logger: logger)
    }

    /// Runs `body` between `BEGIN` and `COMMIT`; `ROLLBACK` when it throws, and the error is rethrown unchanged.
    ///
    /// A connection whose `ROLLBACK` fails while it is still open is closed, so it never goes back to the pool
    /// inside a transaction.
    package func transaction<Result: Sendable>(
        logger: Logger, _ body: (PostgresConnection) async throws -> Result
    ) async throws -> Result {
        try await statement("BEGIN", logger: logger)
        let value: Result
        do {
            value = try await body(self)
        } catch {
            do {
                try await statement("ROLLBACK", logger: logger)
            } catch {
                if !isClosed { try? await close() }
            }
            throw error
        }
        try await statement("COMMIT", logger: logger)
        return value
    }
}

/// Starts a statement on its connection's event loop, so that no close can come between the check and the write.
private actor StatementStart {
    nonisolated let eventLoop: any EventLoop

    nonisolated var unownedExecutor: UnownedSerialExecutor { eventLoop.executor.asUnownedSerialExecutor() }

    init(eventLoop: any EventLoop) {
        self.eventLoop = eventLoop
    }

    func run(_ query: PostgresQuery, on connection: PostgresConnection, logger: Logger) async throws -> PostgresRowSequence {
        guard !connection.isClosed else { throw StoreError.unavailable }
        return try await connection.query(query, logger: logger)
    }
}
