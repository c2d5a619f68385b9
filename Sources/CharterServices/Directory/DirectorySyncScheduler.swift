import CharterCore
package import CharterStore
package import Logging
import ServiceLifecycle

/// Runs due directory syncs in `charter serve`; any number of replicas may run one.
///
/// Every poll it claims one due connection of any tenant through the job table
/// (`charter_private.claim_directory_syncs`: `FOR UPDATE SKIP LOCKED` plus a lease), runs it with the engine
/// (which renews the lease while it works and releases it with the next due time) and claims again until
/// nothing is due, every poll interval (``Periodic``). A replica that dies stops renewing, its lease lapses
/// and another replica takes the connection over; the run it left `running` is recorded as failed on the next
/// pass of any scheduler. On graceful shutdown it finishes the sync in hand and stops.
package struct DirectorySyncScheduler: Service {
    let database: Database
    let engine: DirectorySyncEngine
    let pollInterval: Duration
    let logger: Logger

    package init(database: Database, engine: DirectorySyncEngine, pollInterval: Duration, logger: Logger) {
        self.database = database
        self.engine = engine
        self.pollInterval = pollInterval
        self.logger = logger
    }

    package func run() async throws {
        // Only the wait is cut short by shutdown; a sync in hand runs to its end.
        await Periodic.run(every: pollInterval, startingNow: true) { _ = await runDueSyncs() }
    }

    /// Claims and runs due connections one at a time until none is due; returns the runs it made.
    ///
    /// First it records runs left `running` by a process that died (their connection's lease is free or expired)
    /// as failed, whether or not their connection is due.
    @discardableResult
    package func runDueSyncs() async -> [SyncRun] {
        var runs: [SyncRun] = []
        do {
            let abandoned = try await database.withoutTenant(logger: logger) { tx in
                try await tx.directorySyncJobs.abandonExpiredRuns()
            }
            for (tenant, connection, run) in abandoned {
                logger.notice(
                    "directory sync run abandoned",
                    metadata: ["tenant.id": "\(tenant)", "directory.connection": "\(connection)", "sync.run": "\(run)"]
                )
            }
        } catch {
            logger.error("directory sync cleanup failed", metadata: ["error": "\(String(describing: type(of: error)))"])
        }
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            let claims: [DirectorySyncJobRepository.Claim]
            do {
                claims = try await database.withoutTenant(logger: logger) { tx in
                    try await tx.directorySyncJobs.claimDue(
                        owner: engine.leaseOwner, lease: engine.leaseDuration, limit: 1
                    )
                }
            } catch {
                logger.error("directory sync claim failed", metadata: ["error": "\(String(describing: type(of: error)))"])
                return runs
            }
            guard let claim = claims.first else { return runs }
            do {
                runs.append(
                    try await engine.sync(
                        .init(
                            tenantID: claim.tenantID, mspID: claim.mspID, connectionID: claim.connectionID,
                            kind: .incremental, trigger: .schedule
                        )
                    )
                )
            } catch {
                logger.error(
                    "directory sync could not start",
                    metadata: ["tenant.id": "\(claim.tenantID)", "directory.connection": "\(claim.connectionID)"]
                )
            }
        }
        return runs
    }
}
