package import CharterStore

/// Why the directory service refused an operation; each case reads as a ``Refusal``.
package enum DirectoryError: Error, Hashable, Sendable {
    /// No key-encryption key is configured, so bind passwords can be neither sealed nor opened.
    case keyUnavailable
    /// This process runs no sync runner (it has no key-encryption key).
    case syncUnavailable
    /// A value of the connection breaks a rule; `field` is its JSON pointer.
    case invalid(String, field: String)
    /// Another process or request holds the connection's lease.
    case alreadyRunning
    /// The tenant already has this many syncs running (`directory.sync.max_runs_per_tenant`).
    case tenantBusy(Int)
    /// This process already runs this many API-started syncs (`directory.sync.max_runs_per_process`).
    case processBusy(Int)
    /// The service is shutting down; the sync was recorded as failed, not started.
    case shuttingDown
    /// Only a run in `needs_confirmation` can be confirmed.
    case notConfirmable(SyncRun.Status)

    /// The refusal a start of the runner stands for, or `nil` for a failure of the service itself.
    init?(starting error: DirectorySyncError) {
        switch error {
        case .alreadyRunning: self = .alreadyRunning
        case .tenantBusy(let limit): self = .tenantBusy(limit)
        case .processBusy(let limit): self = .processBusy(limit)
        case .shutDown: self = .shuttingDown
        case .passwordUnavailable, .deadlineExceeded, .objectLimitExceeded, .noConnectorOnline, .connectorFailed: return nil
        }
    }
}

extension DirectoryError: RefusalConvertible {
    package var refusal: Refusal {
        switch self {
        case .keyUnavailable:
            Refusal(
                .unavailable(retryAfterSeconds: nil),
                "No key-encryption key is configured (CHARTER_KEK or CHARTER_KEK_FILE), so bind passwords cannot be "
                    + "sealed or opened."
            )
        case .syncUnavailable:
            Refusal(.unavailable(retryAfterSeconds: nil), "Directory syncs cannot be started here.")
        case .invalid(let detail, let field):
            Refusal(.invalid, detail, field: field)
        case .alreadyRunning:
            Refusal(.conflict, "A sync of this connection is already running; try again when it has finished.")
        case .tenantBusy(let limit):
            Refusal(
                .busy(retryAfterSeconds: 30),
                "The tenant already has \(limit) directory syncs running (directory.sync.max_runs_per_tenant); "
                    + "try again when one has finished."
            )
        case .processBusy(let limit):
            Refusal(
                .busy(retryAfterSeconds: 30),
                "This server already runs \(limit) directory syncs (directory.sync.max_runs_per_process); "
                    + "try again shortly."
            )
        case .shuttingDown:
            Refusal(.unavailable(retryAfterSeconds: nil), "The service is shutting down; the sync was not started.")
        case .notConfirmable(let status):
            Refusal(.conflict, "Only a run in needs_confirmation can be confirmed; this one is \(status.rawValue).")
        }
    }
}
