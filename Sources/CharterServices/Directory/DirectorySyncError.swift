package import CharterCore

/// Why a sync could not start, or why a started one failed (recorded on the run, not thrown to the caller).
package enum DirectorySyncError: Error, Hashable, Sendable {
    /// Another process or request holds the connection's lease.
    case alreadyRunning(DirectoryConnectionID)
    /// The tenant already has this many syncs running (`directory.sync.max_runs_per_tenant`).
    case tenantBusy(Int)
    /// This process already runs this many API-started syncs (`directory.sync.max_runs_per_process`).
    case processBusy(Int)
    /// The sealed bind password cannot be opened with the configured key-encryption keys.
    case passwordUnavailable(DirectoryConnectionID)
    /// The run did not finish within `directory.sync.deadline_seconds`.
    case deadlineExceeded(Duration)
    /// The read returned more objects than `directory.sync.max_objects`.
    case objectLimitExceeded(Int)
    /// The service shut down gracefully while the run worked.
    case shutDown
    /// No connector of a `connector` connection holds its lease; the text says since when each was silent.
    case noConnectorOnline(String)
    /// The connector reported an error at the site, or its upload cannot be merged; the text is the run's error.
    case connectorFailed(String)
}
