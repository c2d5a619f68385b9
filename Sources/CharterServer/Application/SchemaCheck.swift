import CharterStore
import Logging
import PostgresNIO

/// Whether the database is reachable, fully migrated, and connected to as a role row-level security binds.
///
/// The role check is ``ServiceRole/check(_:on:logger:)``: a superuser, a `BYPASSRLS` role, an owner of the
/// schema, or a member (direct or inherited) of any of these is refused.
struct SchemaCheck: Sendable {
    let database: Database

    enum Status: CustomStringConvertible {
        case ready
        case unreachable
        case pendingMigrations(Int)
        case schemaMismatch(String)
        case privilegedRole(String)

        var isReady: Bool {
            if case .ready = self { return true }
            return false
        }

        var description: String {
            switch self {
            case .ready: "ready"
            case .unreachable: "database unreachable"
            case .pendingMigrations(let count): "\(count) migration(s) pending: run 'charter migrate'"
            case .schemaMismatch(let message): message
            case .privilegedRole(let message): message
            }
        }
    }

    func status(logger: Logger) async -> Status {
        do {
            return try await database.client.withOpenConnection { connection in
                let pending = try await Migrator(migrations: Migration.bundled()).pending(
                    connection: connection,
                    logger: logger
                )
                guard pending.isEmpty else { return .pendingMigrations(pending.count) }
                if let refusal = try await ServiceRole.check(on: connection, logger: logger).refusal {
                    return .privilegedRole(refusal)
                }
                return .ready
            }
        } catch let error as MigrationError {
            return .schemaMismatch(error.description)
        } catch {
            logger.debug("readiness check failed", metadata: ["error": "\(String(reflecting: error))"])
            return .unreachable
        }
    }

    /// Waits for the database at start-up and refuses to serve a schema it does not match.
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
