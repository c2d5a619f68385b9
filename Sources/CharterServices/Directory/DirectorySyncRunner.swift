import CharterCore
package import CharterStore
package import Logging
import ServiceLifecycle
import Synchronization

/// Runs the directory syncs started through the API in the background, as one service of `charter serve`.
///
/// ``start(_:)`` takes the connection's lease and records the run as `running` (so the caller can answer `202`
/// with it), then queues it; ``run()`` works the queue in a task group. At most `maximumRuns` API-started syncs
/// run in this process at once, and at most `maximumRunsPerTenant` connections of one tenant are leased at once
/// across all replicas (the engine counts them under a per-tenant lock); a start beyond either is refused rather
/// than queued, so a tenant cannot fill the queue. On graceful shutdown the queue closes, syncs in hand stop and
/// every started run is recorded as failed with the reason.
package final class DirectorySyncRunner: Service, Sendable {
    let engine: DirectorySyncEngine
    /// API-started syncs this process runs at once.
    package let maximumRuns: Int
    /// Leased connections of one tenant at once, over all replicas.
    package let maximumRunsPerTenant: Int
    let logger: Logger
    private let queue: AsyncStream<DirectorySyncEngine.StartedRun>
    private let enqueue: AsyncStream<DirectorySyncEngine.StartedRun>.Continuation
    /// Runs started through this runner and not yet recorded.
    private let active = Mutex(0)

    package init(engine: DirectorySyncEngine, maximumRuns: Int, maximumRunsPerTenant: Int, logger: Logger) {
        self.engine = engine
        self.maximumRuns = maximumRuns
        self.maximumRunsPerTenant = maximumRunsPerTenant
        self.logger = logger
        (queue, enqueue) = AsyncStream.makeStream(of: DirectorySyncEngine.StartedRun.self)
    }

    /// Starts a sync in the background and returns its run, still `running`.
    ///
    /// - Throws: ``DirectorySyncError/processBusy(_:)``, ``DirectorySyncError/tenantBusy(_:)``,
    ///   ``DirectorySyncError/alreadyRunning(_:)``, ``DirectorySyncError/shutDown`` (the service is stopping; the
    ///   run is recorded as failed), `StoreError.notFound` for an unknown connection.
    package func start(_ request: DirectorySyncEngine.Request) async throws -> SyncRun {
        let reserved = active.withLock { count in
            guard count < maximumRuns else { return false }
            count += 1
            return true
        }
        guard reserved else { throw DirectorySyncError.processBusy(maximumRuns) }
        let started: DirectorySyncEngine.StartedRun
        do {
            started = try await engine.begin(request, maximumRunsPerTenant: maximumRunsPerTenant)
        } catch {
            release()
            throw error
        }
        if case .terminated = enqueue.yield(started) {
            release()
            _ = try await engine.fail(started, because: DirectorySyncError.shutDown)
            throw DirectorySyncError.shutDown
        }
        return started.run
    }

    package func run() async throws {
        await withGracefulShutdownHandler {
            await withDiscardingTaskGroup { group in
                for await started in queue {
                    group.addTask { await self.execute(started) }
                }
            }
        } onGracefulShutdown: { [enqueue] in
            enqueue.finish()
        }
    }

    private func execute(_ started: DirectorySyncEngine.StartedRun) async {
        defer { release() }
        do {
            _ = try await engine.run(started, stopsOnGracefulShutdown: true)
        } catch {
            logger.error(
                "directory sync outcome not recorded",
                metadata: [
                    "tenant.id": "\(started.request.tenantID)", "sync.run": "\(started.run.id)",
                    "error": "\(String(describing: type(of: error)))",
                ]
            )
        }
    }

    private func release() {
        active.withLock { $0 -= 1 }
    }
}
