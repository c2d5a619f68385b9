import AsyncAlgorithms
package import Logging
import ServiceLifecycle

/// The one shape of periodic work in `charter serve`: a pass now (or not), then one every interval, on an
/// `AsyncTimerSequence` that ends on graceful shutdown, as swift-service-lifecycle's "Adopting ServiceLifecycle
/// in libraries" shows.
///
/// Only the wait is cut short by shutdown: a pass in hand runs to its end (a sync finishes, a message in hand is
/// sent and recorded), then ``run(every:startingNow:_:)`` returns. Cancellation ends the wait too. The ticks keep
/// a fixed rate: after a pass longer than the interval the next one starts at once, never two at a time.
package enum Periodic {
    /// Runs `pass` every `interval` until graceful shutdown or cancellation.
    ///
    /// - Parameters:
    ///   - startingNow: run the first pass at once rather than after one interval.
    ///   - pass: one round of the work; it handles (logs) its own failures.
    package static func run(every interval: Duration, startingNow: Bool, _ pass: () async -> Void) async {
        if startingNow {
            guard !Task.isShuttingDownGracefully, !Task.isCancelled else { return }
            await pass()
        }
        for await _ in AsyncTimerSequence(interval: interval, clock: .continuous).cancelOnGracefulShutdown() {
            guard !Task.isCancelled else { return }
            await pass()
        }
    }

    /// Runs `pass` like ``run(every:startingNow:_:)``; a pass that fails is logged as `failure` (with the error)
    /// and the next one runs on time. A pass ended by cancellation is not logged.
    package static func run(
        every interval: Duration, startingNow: Bool, logger: Logger, failure: Logger.Message,
        _ pass: () async throws -> Void
    ) async {
        await run(every: interval, startingNow: startingNow) {
            do {
                try await pass()
            } catch is CancellationError {
                return
            } catch {
                logger.warning(failure, metadata: ["error": "\(String(reflecting: error))"])
            }
        }
    }
}
