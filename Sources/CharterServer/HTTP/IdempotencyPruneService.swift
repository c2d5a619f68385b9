import CharterServices
import CharterStore
import Logging
import ServiceLifecycle

/// Deletes idempotency keys whose retention (``IdempotencyMiddleware/retention``) has ended, every
/// ``interval``, on every replica (pruning twice at once is harmless).
struct IdempotencyPruneService: Service {
    static let interval = Duration.seconds(15 * 60)

    let database: Database
    let logger: Logger

    func run() async throws {
        await Periodic.run(
            every: Self.interval, startingNow: false, logger: logger, failure: "could not prune idempotency keys"
        ) {
            let pruned = try await database.readWithoutTenant(logger: logger) { tx in
                try await tx.idempotencyKeys.pruneExpired()
            }
            logger.debug("idempotency keys pruned", metadata: ["count": "\(pruned)"])
        }
    }
}
