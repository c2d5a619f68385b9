package import Logging
import PostgresNIO

/// Whether the database is reachable, fully migrated, and connected to as a role row-level security binds.
package enum SchemaStatus: Sendable, CustomStringConvertible {
    case ready
    case unreachable
    case pendingMigrations(Int)
    case schemaMismatch(String)
    case privilegedRole(String)

    package var isReady: Bool {
        if case .ready = self { return true }
        return false
    }

    package var description: String {
        switch self {
        case .ready: "ready"
        case .unreachable: "database unreachable"
        case .pendingMigrations(let count): "\(count) migration(s) pending: run 'charter migrate'"
        case .schemaMismatch(let message): message
        case .privilegedRole(let message): message
        }
    }
}

extension Database {
    /// Checks the schema and the role on one connection: every bundled migration applied with its checksum, and
    /// a role row-level security binds (``ServiceRole/check(on:logger:)``: a superuser, a `BYPASSRLS` role, an
    /// owner of the schema, or a member of any of these is refused).
    package func schemaStatus(logger: Logger) async -> SchemaStatus {
        do {
            return try await client.withOpenConnection { connection in
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
}
