package import Foundation
package import Logging
import ServiceLifecycle

/// Expires pending requests past their policy's lifetime (``RequestService/expireDue(now:logger:)``) every
/// `interval`. Every replica runs it; the conditional update lets exactly one of them expire each request.
package struct RequestExpiryService: Service {
    let requests: RequestService
    let interval: Duration
    let logger: Logger

    package init(requests: RequestService, interval: Duration, logger: Logger) {
        self.requests = requests
        self.interval = interval
        self.logger = logger
    }

    package func run() async throws {
        await Periodic.run(
            every: interval, startingNow: false, logger: logger, failure: "could not expire requests"
        ) {
            try await expireDue(now: Date())
        }
    }

    package func expireDue(now: Date) async throws {
        try await requests.expireDue(now: now, logger: logger)
    }
}
