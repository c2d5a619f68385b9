import CharterStore
import Logging

/// The start-up and readiness check: the store's ``Database/schemaStatus(logger:)`` (every migration applied,
/// a role row-level security binds), waited for at start-up.
struct SchemaCheck: Sendable {
    let database: Database

    func status(logger: Logger) async -> SchemaStatus {
        await database.schemaStatus(logger: logger)
    }

    /// Waits for the database at start-up (30 one-second retries while it is unreachable) and refuses to serve a
    /// schema it does not match.
    func requireReady(logger: Logger) async throws {
        var attempt = 0
        while true {
            let status = await status(logger: logger)
            switch status {
            case .ready:
                return
            case .unreachable where attempt < 30:
                attempt += 1
                logger.warning("database not reachable yet", metadata: ["attempt": "\(attempt)"])
                try await Task.sleep(for: .seconds(1))
            default:
                throw StartupError(message: status.description)
            }
        }
    }
}

/// Why the service refused to start.
package struct StartupError: Error, CustomStringConvertible {
    package var message: String
    package var description: String { message }
}
