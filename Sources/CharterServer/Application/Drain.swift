import CharterServices
import Logging
import ServiceLifecycle
import Synchronization

/// Whether this replica is draining: set once on SIGTERM, read by `/readyz` and the event stream route.
package final class DrainState: Sendable {
    private let draining = Atomic(false)

    package init() {}

    package var isDraining: Bool { draining.load(ordering: .relaxed) }

    func begin() {
        draining.store(true, ordering: .relaxed)
    }
}

/// The first service to stop on SIGTERM: readiness fails at once (load balancers stop sending new
/// connections), then the agents' event streams are closed spread over the drain window, each told to
/// reconnect after a jittered delay, so that a rolling restart does not make every agent reconnect to the
/// same replica at the same moment. Only then does the HTTP server stop.
///
/// It must run in the outer service group *after* the application, because a group stops its services in
/// reverse order.
package struct DrainService: Service {
    let state: DrainState
    let hub: EventHub
    let window: Duration
    let logger: Logger

    package func run() async throws {
        try? await gracefulShutdown()
        state.begin()
        let open = await hub.connectedCount
        logger.info("draining", metadata: ["streams": "\(open)", "window_seconds": "\(window.components.seconds)"])
        await hub.drain(over: window)
    }
}
