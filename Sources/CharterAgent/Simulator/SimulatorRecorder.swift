internal import Synchronization

/// What the simulator's tasks record, and the callers waiting for a condition on it.
///
/// Every method takes the lock briefly; waiters whose condition holds are resumed after it is released.
final class SimulatorRecorder: Sendable {
    /// A condition a caller waits for.
    enum Condition: Sendable {
        /// Every enrolled device has received `ready` since it (re)connected.
        case connected
        /// Every enrolled device has received a `bundle` hint with a position above this one.
        case bundleHints(after: UInt64)
        /// A `decision` event has arrived for every request named: request id → the device's index.
        case decisions([String: Int])
    }

    /// Why a wait ended without its condition.
    enum WaitFailure: Error {
        case simulatorStopped
        case timedOut(waitingFor: Int)
    }

    private struct Device {
        var isConnected = false
        var heartbeatSeconds = AgentEvent.defaultHeartbeatSeconds
        var bundleHints: [(position: UInt64, at: ContinuousClock.Instant)] = []
    }

    private struct Waiter {
        var condition: Condition
        var continuation: CheckedContinuation<[Int: ContinuousClock.Instant], any Error>
        /// For `.bundleHints` and `.decisions`: the arrivals so far, kept up to date by ``received(_:on:at:)``
        /// and ``decided(_:at:)`` so that an event costs O(waiters), not a scan of every device (10,000
        /// devices × 10,000 hints per round).
        var arrivals: [Int: ContinuousClock.Instant] = [:]
    }

    private struct State {
        var deviceCount: Int
        var devices: [Int: Device] = [:]
        /// How many of `devices` are connected.
        var connectedCount = 0
        var isEnrollmentFinished = false
        var isStopped = false
        var lastPosition: UInt64?
        /// The first `decision` event of each request, by request id.
        var decisionArrivals: [String: ContinuousClock.Instant] = [:]
        var enrollLatencies: [Duration] = []
        var connectLatencies: [Duration] = []
        var bundleLatencies: [Duration] = []
        var reenrollments = 0
        var hints: [String: Int] = [:]
        var bundlesVerified = 0
        var bundlesNotModified = 0
        var bundlesUnverified = 0
        var bundlesPushed = 0
        var pushesMissed = 0
        var fetchesInFlight = 0
        /// The last `ready` or `bundle` event, or fetch start or end.
        var lastActivity: ContinuousClock.Instant?
        var rejections: [String: Int] = [:]
        var reconnects = 0
        var errors: [String: Int] = [:]
        var waiters: [Int: Waiter] = [:]
        var cancelledWaiters: Set<Int> = []
        var nextWaiterID = 0

        /// The outcome of a condition: the instants per device when it holds, else how many devices it waits for.
        func evaluate(_ condition: Condition) -> Result<[Int: ContinuousClock.Instant], WaitFailure> {
            switch condition {
            case .connected:
                let waiting = devices.count - connectedCount
                guard isEnrollmentFinished, waiting == 0 else {
                    return .failure(.timedOut(waitingFor: waiting + (isEnrollmentFinished ? 0 : 1)))
                }
                return .success([:])
            case .bundleHints(let position):
                var arrivals: [Int: ContinuousClock.Instant] = [:]
                for (index, device) in devices {
                    if let hint = device.bundleHints.first(where: { $0.position > position }) {
                        arrivals[index] = hint.at
                    }
                }
                guard isEnrollmentFinished, arrivals.count == devices.count else {
                    return .failure(.timedOut(waitingFor: devices.count - arrivals.count))
                }
                return .success(arrivals)
            case .decisions(let requests):
                let arrivals = decisions(of: requests)
                guard arrivals.count == requests.count else {
                    return .failure(.timedOut(waitingFor: requests.count - arrivals.count))
                }
                return .success(arrivals)
            }
        }

        /// The arrivals of the `decision` events of `requests` so far, by device index.
        func decisions(of requests: [String: Int]) -> [Int: ContinuousClock.Instant] {
            var arrivals: [Int: ContinuousClock.Instant] = [:]
            for (request, index) in requests {
                if let arrival = decisionArrivals[request] { arrivals[index] = arrival }
            }
            return arrivals
        }

        /// Whether a registered waiter's condition holds, from its incremental state (no scan of the devices).
        func holds(_ waiter: Waiter) -> Bool {
            guard isEnrollmentFinished else { return false }
            switch waiter.condition {
            case .connected:
                return connectedCount == devices.count
            case .bundleHints:
                return waiter.arrivals.count == devices.count
            case .decisions(let requests):
                return waiter.arrivals.count == requests.count
            }
        }

        /// Removes the waiters whose condition holds (or all, once stopped), with what to resume them with.
        mutating func takeSettledWaiters() -> [(Waiter, Result<[Int: ContinuousClock.Instant], any Error>)] {
            var settled: [(Waiter, Result<[Int: ContinuousClock.Instant], any Error>)] = []
            for (id, waiter) in waiters {
                if holds(waiter) {
                    settled.append((waiter, .success(waiter.condition.isConnected ? [:] : waiter.arrivals)))
                } else if isStopped {
                    settled.append((waiter, .failure(WaitFailure.simulatorStopped)))
                } else {
                    continue
                }
                waiters[id] = nil
            }
            return settled
        }
    }

    private let state: Mutex<State>

    init(deviceCount: Int) {
        state = Mutex(State(deviceCount: deviceCount))
    }

    // MARK: - Recording

    func enrolled(_ index: Int, isReenrollment: Bool, latency: Duration) {
        update { state in
            if state.devices[index]?.isConnected == true { state.connectedCount -= 1 }
            state.devices[index] = Device()
            state.enrollLatencies.append(latency)
            if isReenrollment { state.reenrollments += 1 }
        }
    }

    func enrollmentFinished() {
        update { $0.isEnrollmentFinished = true }
    }

    func stopped() {
        update { $0.isStopped = true }
    }

    func received(_ event: ServerSentEvent, on index: Int, at instant: ContinuousClock.Instant) {
        update { state in
            state.hints[event.type, default: 0] += 1
            guard let position = event.position else {
                return
            }
            state.lastPosition = max(state.lastPosition ?? 0, position)
            if event.type == "ready" {
                state.lastActivity = max(state.lastActivity ?? instant, instant)
            }
            if event.type == "bundle", state.devices[index] != nil {
                state.lastActivity = max(state.lastActivity ?? instant, instant)
                state.devices[index]?.bundleHints.append((position, instant))
                for (id, waiter) in state.waiters {
                    if case .bundleHints(let after) = waiter.condition, position > after, waiter.arrivals[index] == nil {
                        state.waiters[id]?.arrivals[index] = instant
                    }
                }
            }
        }
    }

    /// A `decision` event for `requestID` arrived (on the stream of the device that made the request).
    func decided(_ requestID: String, at instant: ContinuousClock.Instant) {
        update { state in
            guard state.decisionArrivals[requestID] == nil else { return }
            state.decisionArrivals[requestID] = instant
            for (id, waiter) in state.waiters {
                if case .decisions(let requests) = waiter.condition, let index = requests[requestID] {
                    state.waiters[id]?.arrivals[index] = instant
                }
            }
        }
    }

    func connected(_ index: Int, heartbeatSeconds: Int, latency: Duration) {
        update { state in
            if state.devices[index]?.isConnected == false { state.connectedCount += 1 }
            state.devices[index]?.isConnected = true
            state.devices[index]?.heartbeatSeconds = heartbeatSeconds
            state.connectLatencies.append(latency)
        }
    }

    func disconnected(_ index: Int) {
        update { state in
            if state.devices[index]?.isConnected == true { state.connectedCount -= 1 }
            state.devices[index]?.isConnected = false
            state.reconnects += 1
        }
    }

    func fetched(accepted: Bool, latency: Duration) {
        update { state in
            state.bundleLatencies.append(latency)
            if accepted { state.bundlesVerified += 1 } else { state.bundlesNotModified += 1 }
        }
    }

    /// A `200` taken without verification (the simulator's `verifiesBundles` off).
    func fetchedUnverified(latency: Duration) {
        update { state in
            state.bundleLatencies.append(latency)
            state.bundlesUnverified += 1
        }
    }

    /// A pushed bundle was taken (`verified` false: without verification) or found to be the one held.
    func pushed(accepted: Bool, verified: Bool) {
        update { state in
            state.bundlesPushed += 1
            if !accepted {
                state.bundlesNotModified += 1
            } else if verified {
                state.bundlesVerified += 1
            } else {
                state.bundlesUnverified += 1
            }
        }
    }

    /// A hint's pushed bundle did not come in time; the device fetches instead.
    func pushMissed() {
        update { $0.pushesMissed += 1 }
    }

    func fetchStarted(at instant: ContinuousClock.Instant = .now) {
        update { state in
            state.fetchesInFlight += 1
            state.lastActivity = instant
        }
    }

    func fetchEnded(at instant: ContinuousClock.Instant = .now) {
        update { state in
            state.fetchesInFlight -= 1
            state.lastActivity = instant
        }
    }

    func rejected(code: String) {
        update { $0.rejections[code, default: 0] += 1 }
    }

    func failed(_ kind: String) {
        update { $0.errors[kind, default: 0] += 1 }
    }

    // MARK: - Reading

    func heartbeatSeconds(of index: Int) -> Int {
        state.withLock { $0.devices[index]?.heartbeatSeconds ?? AgentEvent.defaultHeartbeatSeconds }
    }

    var lastPosition: UInt64? {
        state.withLock { $0.lastPosition }
    }

    /// Fetches running now, and the last `ready`/`bundle` event or fetch start or end.
    var activity: (fetchesInFlight: Int, last: ContinuousClock.Instant?) {
        state.withLock { ($0.fetchesInFlight, $0.lastActivity) }
    }

    func report() -> SimulatorReport {
        state.withLock { state in
            SimulatorReport(
                devices: state.deviceCount,
                enrolled: state.devices.count,
                reenrolled: state.reenrollments,
                connected: state.devices.values.filter(\.isConnected).count,
                enrollLatency: LatencySummary(state.enrollLatencies),
                connectLatency: LatencySummary(state.connectLatencies),
                bundleLatency: LatencySummary(state.bundleLatencies),
                hints: state.hints,
                bundlesVerified: state.bundlesVerified,
                bundlesNotModified: state.bundlesNotModified,
                bundlesUnverified: state.bundlesUnverified,
                bundlesPushed: state.bundlesPushed,
                pushesMissed: state.pushesMissed,
                rejections: state.rejections,
                reconnects: state.reconnects,
                errors: state.errors
            )
        }
    }

    // MARK: - Waiting

    /// Waits until a condition holds.
    ///
    /// - Returns: For `.bundleHints`, each device's arrival instant of its first such hint.
    /// - Throws: `CancellationError`, or ``WaitFailure/simulatorStopped`` when the simulator stops first.
    func wait(for condition: Condition) async throws -> [Int: ContinuousClock.Instant] {
        let id = state.withLock { state in
            state.nextWaiterID += 1
            return state.nextWaiterID
        }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                let immediate: Result<[Int: ContinuousClock.Instant], any Error>? = state.withLock { state in
                    if state.cancelledWaiters.remove(id) != nil {
                        return .failure(CancellationError())
                    }
                    if case .success(let arrivals) = state.evaluate(condition) {
                        return .success(arrivals)
                    }
                    if state.isStopped {
                        return .failure(WaitFailure.simulatorStopped)
                    }
                    var waiter = Waiter(condition: condition, continuation: continuation)
                    switch condition {
                    case .connected:
                        break
                    case .bundleHints(let position):
                        for (index, device) in state.devices {
                            if let hint = device.bundleHints.first(where: { $0.position > position }) {
                                waiter.arrivals[index] = hint.at
                            }
                        }
                    case .decisions(let requests):
                        waiter.arrivals = state.decisions(of: requests)
                    }
                    state.waiters[id] = waiter
                    return nil
                }
                if let immediate {
                    continuation.resume(with: immediate)
                }
            }
        } onCancel: {
            let waiter = state.withLock { state in
                guard let waiter = state.waiters.removeValue(forKey: id) else {
                    state.cancelledWaiters.insert(id)
                    return Waiter?.none
                }
                return waiter
            }
            waiter?.continuation.resume(throwing: CancellationError())
        }
    }

    /// How many devices a condition still waits for.
    func missing(for condition: Condition) -> Int {
        state.withLock { state in
            if case .failure(.timedOut(let waitingFor)) = state.evaluate(condition) {
                return waitingFor
            }
            return 0
        }
    }

    private func update(_ body: (inout State) -> Void) {
        let settled = state.withLock { state in
            body(&state)
            return state.waiters.isEmpty ? [] : state.takeSettledWaiters()
        }
        for (waiter, result) in settled {
            waiter.continuation.resume(with: result)
        }
    }
}

extension SimulatorRecorder.Condition {
    fileprivate var isConnected: Bool {
        if case .connected = self { true } else { false }
    }
}
