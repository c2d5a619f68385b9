package import CharterCore

/// Why a sync could not start; a sync that started and failed is recorded as a failed run instead.
package enum DirectorySyncError: Error, Hashable, Sendable {
    /// Another process or request holds the connection's lease.
    case alreadyRunning(DirectoryConnectionID)
    /// The sealed bind password cannot be opened with the configured key-encryption keys.
    case passwordUnavailable(DirectoryConnectionID)
}
