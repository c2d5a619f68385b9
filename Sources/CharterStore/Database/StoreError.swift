import PostgresNIO

/// What the store reports to its callers; a `PSQLError` never travels further than this type.
package enum StoreError: Error, Hashable, Sendable {
    /// The row does not exist or is not visible in this scope.
    case notFound
    /// A unique constraint was violated; carries the constraint's name.
    case alreadyExists(constraint: String)
    /// A foreign key or check constraint refused the write; carries the constraint's name.
    case constraintViolated(constraint: String)
    /// The row changed since the caller read it (optimistic concurrency).
    case versionMismatch(current: Int64)
    /// A text value the database cannot store (U+0000, or bytes that are not UTF-8).
    case invalidText
    /// Serialization failure or deadlock: the caller may retry the whole transaction.
    case retryable
    /// The database could not be reached or the connection broke.
    case unavailable
    /// Anything else; the SQLSTATE is kept for logs, never shown to clients.
    case unexpected(sqlState: String)

    init(_ error: PSQLError) {
        guard error.code == .server, let state = error.serverInfo?[.sqlState] else {
            self = .unavailable
            return
        }
        let constraint = error.serverInfo?[.constraintName] ?? ""
        switch state {
        case "23505": self = .alreadyExists(constraint: constraint)
        case "23503", "23514", "23502": self = .constraintViolated(constraint: constraint)
        case "22021", "22P05": self = .invalidText
        case "40001", "40P01": self = .retryable
        // Raised by the functions of migration 0025 for a tenant the transaction's MSP does not have.
        case "P0002": self = .notFound
        case "57P01", "57P02", "57P03", "08000", "08003", "08006": self = .unavailable
        default: self = .unexpected(sqlState: state)
        }
    }
}
