import CharterCore
import CharterServices
import CharterStore
import Foundation
import Testing

@Suite("Sync-run decisions")
struct SyncRunDecisionTests {
    static let now = Date(timeIntervalSince1970: 1_800_000_000)
    static let day: TimeInterval = 86_400

    @Test(
        "an incremental read needs a watermark and a full read within the interval",
        arguments: [
            (SyncRun.Kind.incremental, Date?.some(now - 3600), SyncRun.Kind.incremental),
            (.incremental, now - day + 1, .incremental),
            (.incremental, now - day, .full),
            (.incremental, now - 2 * day, .full),
            (.incremental, nil, .full),
            (.full, now - 60, .full),
            (.full, nil, .full),
        ] as [(SyncRun.Kind, Date?, SyncRun.Kind)]
    )
    func readKind(requested: SyncRun.Kind, lastFullSyncAt: Date?, expected: SyncRun.Kind) {
        #expect(
            SyncRunDecision.readKind(
                requested: requested, lastFullSyncAt: lastFullSyncAt, now: Self.now, fullSyncInterval: Self.day
            ) == expected
        )
    }

    static func running(_ kind: SyncRun.Kind = .incremental) -> SyncRun {
        SyncRun(
            id: .random(), connectionID: .random(), kind: kind, status: .running, trigger: .schedule,
            confirmsDeletions: false, startedAt: now
        )
    }

    @Test("a finished read succeeds with its outcome, the kind it really read included")
    func succeeded() {
        let counts = SyncCounts(byKind: ["user": .init(added: 3, deleted: 1)])
        let run = SyncRunDecision.finish(
            Self.running(),
            with: .success(.init(kind: .full, domainController: "dc1.charter.test", objectsRead: 42, counts: counts))
        )
        #expect(run.status == .succeeded)
        #expect(run.kind == .full)
        #expect(run.domainController == "dc1.charter.test")
        #expect(run.objectsRead == 42)
        #expect(run.counts == counts)
        #expect(run.error == nil)
        #expect(run.pendingDeletions == nil)
    }

    @Test("the deletion guard holds the run for confirmation, changing nothing")
    func guarded() {
        let counts = SyncCounts(byKind: ["computer": .init(deleted: 600)])
        let run = SyncRunDecision.finish(
            Self.running(),
            with: .failure(DirectoryStaging.DeletionGuardTripped(pendingDeletions: 600, allowedDeletions: 500, counts: counts))
        )
        #expect(run.status == .needsConfirmation)
        #expect(run.pendingDeletions == 600)
        #expect(run.counts == counts)
        #expect(
            run.error
                == "The sync would delete 600 objects, more than the 500 the connection's deletion threshold allows; "
                + "nothing was changed. Confirm to apply."
        )
    }

    @Test(
        "a failure is recorded as a category the tenant may read",
        arguments: [
            (
                DirectorySyncError.deadlineExceeded(.seconds(1800)),
                "The sync did not finish within its deadline of 1800 s (directory.sync.deadline_seconds); nothing was "
                    + "changed."
            ),
            (
                .objectLimitExceeded(100_000),
                "The directory returned more than 100000 objects, the limit of one sync (directory.sync.max_objects); "
                    + "nothing was changed."
            ),
            (.shutDown, "The service shut down before the sync finished; nothing was changed."),
            (.alreadyRunning(.random()), "The connection's lease was lost to another process."),
            (
                .passwordUnavailable(.random()),
                "The bind password cannot be opened with the configured key-encryption keys (CHARTER_KEK)."
            ),
        ] as [(DirectorySyncError, String)]
    )
    func failed(error: DirectorySyncError, message: String) {
        let run = SyncRunDecision.finish(Self.running(), with: .failure(error))
        #expect(run.status == .failed)
        #expect(run.error == message)
        #expect(run.pendingDeletions == nil)
    }

    @Test("an error of no known kind names only its type")
    func unknownFailure() {
        let run = SyncRunDecision.finish(Self.running(), with: .failure(CancellationError()))
        #expect(run.status == .failed)
        #expect(run.error == "Sync failed: CancellationError")
    }

    @Test(
        "the deletion guard allows the smaller of its two limits",
        arguments: [
            (DeletionThreshold(objects: 500, percent: 10), 10_000, 500),
            (DeletionThreshold(objects: 500, percent: 10), 1_000, 100),
            (DeletionThreshold(objects: 0, percent: 10), 1_000, 0),
            (DeletionThreshold(objects: 500, percent: 100), 50, 50),
            (DeletionThreshold(objects: 500, percent: 10), 0, 0),
        ] as [(DeletionThreshold, Int, Int)]
    )
    func allowedDeletions(threshold: DeletionThreshold, stored: Int, allowed: Int) {
        #expect(threshold.allowedDeletions(stored: stored) == allowed)
    }
}
