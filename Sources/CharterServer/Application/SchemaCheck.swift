import CharterStore
import Logging
import PostgresNIO

/// Whether the database is reachable, fully migrated, and connected to as a role row-level security binds.
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
                let rows = try await connection.statement(
                    """
                    SELECT r.rolsuper OR r.rolbypassrls,
                           EXISTS (SELECT 1 FROM pg_tables WHERE tablename = 'tenants' AND tableowner = current_user)
                    FROM pg_roles r WHERE r.rolname = current_user
                    """,
                    logger: logger
                )
                for try await (bypasses, owns) in rows.decode((Bool, Bool).self) {
                    if bypasses {
                        return .privilegedRole(
                            "the database role is a superuser or has BYPASSRLS; connect as a member of charter_app"
                        )
                    }
                    if owns {
                        return .privilegedRole(
                            "the database role owns the tables, so row-level security does not bind it; connect as a member of charter_app"
                        )
                    }
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
