import CharterCore
import CharterDirectory
package import CharterStore
package import Foundation

/// The decisions of a sync run, apart from its I/O: how it reads and how it ends.
///
/// ``DirectorySyncEngine`` asks these and does what they say; they are functions of values (including `now`), so
/// they are tested as tables.
package enum SyncRunDecision {
    /// What a finished read and merge amounted to.
    package struct Outcome: Sendable, Hashable {
        package var kind: SyncRun.Kind
        package var domainController: String
        package var objectsRead: Int
        package var counts: SyncCounts

        package init(kind: SyncRun.Kind, domainController: String, objectsRead: Int, counts: SyncCounts) {
            self.kind = kind
            self.domainController = domainController
            self.objectsRead = objectsRead
            self.counts = counts
        }
    }

    /// Whether a run reads the changes since the watermark or everything.
    ///
    /// An incremental read needs a watermark and a full read within `fullSyncInterval`: deletions tombstones
    /// missed (tombstone lifetime passed, objects moved out of scope) are swept only by a full read. (The DC can
    /// still ask for a full read when it does not know the watermark; the engine then reads again in full.)
    package static func readKind(
        requested: SyncRun.Kind, lastFullSyncAt: Date?, now: Date, fullSyncInterval: TimeInterval
    ) -> SyncRun.Kind {
        guard requested == .incremental, let lastFullSyncAt,
            lastFullSyncAt.addingTimeInterval(fullSyncInterval) > now
        else { return .full }
        return .incremental
    }

    /// The run as it ended: succeeded with its outcome, held by the deletion guard (`needs_confirmation`, nothing
    /// changed) or failed with a message the tenant may read.
    package static func finish(_ run: SyncRun, with result: Result<Outcome, any Error>) -> SyncRun {
        var run = run
        switch result {
        case .success(let outcome):
            run.kind = outcome.kind
            run.domainController = outcome.domainController
            run.objectsRead = outcome.objectsRead
            run.counts = outcome.counts
            run.status = .succeeded
        case .failure(let tripped as DirectoryStaging.DeletionGuardTripped):
            run.status = .needsConfirmation
            run.counts = tripped.counts
            run.pendingDeletions = tripped.pendingDeletions
            run.error =
                "The sync would delete \(tripped.pendingDeletions) objects, more than the \(tripped.allowedDeletions) "
                + "the connection's deletion threshold allows; nothing was changed. Confirm to apply."
        case .failure(let error):
            run.status = .failed
            run.error = message(for: error)
        }
        return run
    }

    /// The text recorded for a failed run, which the tenant reads: a category (the operation and libldap's
    /// name for the result code, or the policy's reason), never the server's diagnostic text or SQL. The log
    /// has the full error.
    package static func message(for error: any Error) -> String {
        switch error {
        case let error as LDAPError:
            if let refusal = error.refusal {
                "LDAP: \(error.operation) refused by the outbound policy (\(refusal.reason.rawValue) address)"
            } else {
                "LDAP: \(error.operation) failed: \(error.code)"
            }
        case let error as ActiveDirectoryError: "Active Directory: \(error)"
        case DirectorySyncError.passwordUnavailable:
            "The bind password cannot be opened with the configured key-encryption keys (CHARTER_KEK)."
        case DirectorySyncError.alreadyRunning: "The connection's lease was lost to another process."
        case DirectorySyncError.deadlineExceeded(let deadline):
            "The sync did not finish within its deadline of \(deadline.components.seconds) s "
                + "(directory.sync.deadline_seconds); nothing was changed."
        case DirectorySyncError.objectLimitExceeded(let limit):
            "The directory returned more than \(limit) objects, the limit of one sync "
                + "(directory.sync.max_objects); nothing was changed."
        case DirectorySyncError.shutDown: "The service shut down before the sync finished; nothing was changed."
        case DirectorySyncError.noConnectorOnline(let message): message
        case DirectorySyncError.connectorFailed(let message): message
        case let error as StoreError: "Database: \(error)"
        default: "Sync failed: \(String(describing: type(of: error)))"
        }
    }
}
