public import AsyncHTTPClient
internal import CharterBundle
internal import NIOCore
public import Logging
internal import Synchronization

/// Many simulated agents against one service: enrollment, event streams, bundle fetches, elevation
/// requests, and the time hints and decisions take to reach every device.
///
/// ``run()`` enrolls ``Configuration/deviceCount`` devices (at most ``Configuration/concurrency`` at a
/// time, retrying `429`/`503` with backoff), then keeps one event stream per device open until it is
/// cancelled. Each device behaves as docs/agent-protocol.md says: it fetches its bundle (with
/// `If-None-Match`) after every `ready` and every `bundle` hint — or, on a stream whose `ready` announced
/// pushed bundles, takes the `current_bundle` that follows the hint and fetches only when none comes
/// within the announced wait — verifies it, reports a refused one
/// as `bundle.rejected`, drops a stream silent for 3 × `heartbeat_seconds`, and reconnects with
/// `Last-Event-ID` after the `retry` delay or with backoff. While it runs, other tasks can wait for
/// ``waitUntilConnected(timeout:)``, measure ``measurePropagation(timeout:write:)``, and submit requests
/// and time their decisions (``submitRequests(_:)``, ``measureDecisions(of:longPolls:timeout:decide:)``).
///
/// ```swift
/// try await withThrowingTaskGroup(of: Void.self) { group in
///     group.addTask { try await simulator.run() }
///     try await simulator.waitUntilConnected(timeout: .seconds(60))
///     let round = try await simulator.measurePropagation { try await changeSettings() }
///     group.cancelAll()
/// }
/// ```
public final class AgentSimulator: Sendable {
    /// What to simulate.
    public struct Configuration: Sendable {
        /// The enrollment tokens, spread over the devices in turn: device `n` (from 0) uses token
        /// `n % enrollmentTokens.count`, so one token per tenant makes the devices many tenants'.
        public var enrollmentTokens: [String]
        /// How many devices.
        public var deviceCount: Int
        /// How many enrollments run at once, how many bundle fetches, request submissions and decisions: the
        /// client's pool has a connection per stream and this many more, so calls beyond it would wait for a
        /// connection (and time out).
        public var concurrency: Int
        /// Device host names are `<prefix>-<n>`, n from 1, zero-padded.
        public var hostnamePrefix: String
        /// Backoff for stream reconnects after network errors.
        public var reconnectBackoff: Backoff
        /// How often a retryable (`429`/`503`) enroll or fetch is tried before it counts as failed.
        public var maximumAttempts: Int
        /// Whether fetched bundles are verified (as an agent must). Off, a device keeps the ETag of
        /// every `200` unchecked: the service sees the same requests, and a load test with many devices in one
        /// process does not spend its CPU on verification that real agents do on their own machines.
        public var verifiesBundles: Bool

        /// Creates a configuration.
        ///
        /// - Parameters:
        ///   - enrollmentTokens: The enrollment tokens, used in turn (at least one).
        ///   - deviceCount: How many devices.
        ///   - concurrency: How many enrollments at once.
        ///   - hostnamePrefix: The host-name prefix.
        ///   - reconnectBackoff: The stream reconnect backoff.
        ///   - maximumAttempts: Tries of a retryable call.
        ///   - verifiesBundles: Whether fetched bundles are verified.
        public init(
            enrollmentTokens: [String],
            deviceCount: Int,
            concurrency: Int = 16,
            hostnamePrefix: String = "sim",
            reconnectBackoff: Backoff = .eventStream,
            maximumAttempts: Int = 6,
            verifiesBundles: Bool = true
        ) {
            self.enrollmentTokens = enrollmentTokens
            self.deviceCount = deviceCount
            self.concurrency = concurrency
            self.hostnamePrefix = hostnamePrefix
            self.reconnectBackoff = reconnectBackoff
            self.maximumAttempts = maximumAttempts
            self.verifiesBundles = verifiesBundles
        }
    }

    /// Why a simulator call failed.
    public enum Failure: Error, Sendable, CustomStringConvertible {
        /// The service refused an enrollment for a reason retrying does not fix.
        case enrollmentRefused(hostname: String, AgentError)
        /// The device waits for an administrator's approval: another device already stands for the host name
        /// (a re-run with the same `--hostname-prefix`; the simulator keeps no keys to prove it is that device).
        case enrollmentPending(hostname: String)
        /// The service refused a device's elevation request.
        case requestRefused(hostname: String, AgentError)
        /// The simulator stopped (its ``AgentSimulator/run()`` ended) before the condition held.
        case stopped
        /// The condition did not hold in time; `waitingFor` devices were still missing.
        case timedOut(waitingFor: Int)

        /// A one-line explanation.
        public var description: String {
            switch self {
            case .enrollmentRefused(let hostname, let error):
                "enrollment of \(hostname) refused: \(error)"
            case .enrollmentPending(let hostname):
                "\(hostname) is enrolled already and its new device waits for approval; use another --hostname-prefix"
            case .requestRefused(let hostname, let error):
                "request of \(hostname) refused: \(error)"
            case .stopped:
                "the simulator stopped"
            case .timedOut(let waitingFor):
                "timed out waiting for \(waitingFor) device(s)"
            }
        }
    }

    /// One admin write and the hints it caused.
    public struct PropagationRound: Sendable, Hashable {
        /// How long the write took to answer.
        public var writeDuration: Duration
        /// Per device, from the write's answer to the arrival of its `bundle` hint (zero when the hint came first).
        public var latencies: [Duration]
        /// Per device, from the start of the write's request to the arrival of its `bundle` hint.
        public var latenciesFromStart: [Duration]
        /// How many hints arrived before the write answered.
        public var hintsBeforeAnswer: Int
    }

    /// The client the devices are made from (unauthenticated).
    public let client: AgentClient
    /// What to simulate.
    public let configuration: Configuration
    private let logger: Logger
    private let recorder: SimulatorRecorder
    private let fetchGate: FetchGate
    /// Every enrolled device's client, by index; set once enrollment is over.
    let deviceClients = Mutex<[Int: AgentClient]>([:])

    /// Creates a simulator.
    ///
    /// - Parameters:
    ///   - client: A client of the service; its `HTTPClient` needs a connection per device plus
    ///     room for fetches (see ``httpClientConfiguration(deviceCount:concurrency:)``).
    ///   - configuration: What to simulate.
    ///   - logger: The logger.
    public init(client: AgentClient, configuration: Configuration, logger: Logger) {
        self.client = client
        self.configuration = configuration
        self.logger = logger
        self.recorder = SimulatorRecorder(deviceCount: configuration.deviceCount)
        self.fetchGate = FetchGate(permits: max(1, configuration.concurrency))
    }

    /// An `HTTPClient` configuration for a simulation: HTTP/1.1 (one connection per stream, as
    /// agents behind proxies have), a pool with a connection for every stream and every concurrent
    /// fetch, and no read timeout (the simulator watches stream heartbeats itself).
    ///
    /// - Parameters:
    ///   - deviceCount: How many devices.
    ///   - concurrency: How many other calls may run at once.
    /// - Returns: The configuration.
    public static func httpClientConfiguration(deviceCount: Int, concurrency: Int) -> HTTPClient.Configuration {
        var configuration = HTTPClient.Configuration()
        configuration.timeout = .init(connect: .seconds(10), read: nil)
        configuration.connectionPool = .init(
            idleTimeout: .seconds(60),
            concurrentHTTP1ConnectionsPerHostSoftLimit: deviceCount + concurrency + 8
        )
        configuration.httpVersion = .http1Only
        return configuration
    }

    // MARK: - Running

    /// Enrolls the devices, then keeps their streams open until the task is cancelled.
    ///
    /// - Throws: ``Failure/enrollmentRefused(hostname:_:)`` when an enrollment fails for good;
    ///   nothing on cancellation.
    public func run() async throws {
        defer { recorder.stopped() }
        let devices = try await enrollAll()
        deviceClients.withLock { clients in
            for (index, device) in devices { clients[index] = device.client }
        }
        recorder.enrollmentFinished()
        logger.info("devices enrolled", metadata: ["device.count": "\(devices.count)"])
        await withDiscardingTaskGroup { group in
            for (index, device) in devices {
                group.addTask { await self.simulate(device, index: index) }
            }
        }
    }

    /// Waits until every device's stream has delivered `ready`.
    ///
    /// - Parameter timeout: How long to wait.
    /// - Throws: ``Failure``, or `CancellationError`.
    public func waitUntilConnected(timeout: Duration) async throws {
        _ = try await wait(for: .connected, timeout: timeout)
    }

    /// The highest event position any device has seen, or `nil` before any event.
    public var lastPosition: UInt64? {
        recorder.lastPosition
    }

    /// Waits until every device has received a `bundle` hint positioned after `position`.
    ///
    /// - Parameters:
    ///   - position: The position to pass, typically ``lastPosition`` before a write.
    ///   - timeout: How long to wait.
    /// - Returns: Per device index (0-based), the arrival of its first such hint.
    /// - Throws: ``Failure``, or `CancellationError`.
    public func waitForBundleHints(after position: UInt64, timeout: Duration) async throws -> [Int: ContinuousClock.Instant] {
        try await wait(for: .bundleHints(after: position), timeout: timeout)
    }

    /// Performs a write that should reach every device and measures how long its hint took.
    ///
    /// The clock starts when `write` returns (the admin API answered) and stops, per device, when
    /// its first `bundle` hint positioned after every event seen before the write arrives.
    ///
    /// - Parameters:
    ///   - timeout: How long to wait for the hints after the write.
    ///   - write: The admin write.
    /// - Returns: The write's duration and every device's latency.
    /// - Throws: What `write` throws, ``Failure``, or `CancellationError`.
    public func measurePropagation(
        timeout: Duration = .seconds(30),
        write: () async throws -> Void
    ) async throws -> PropagationRound {
        let position = recorder.lastPosition ?? 0
        let started = ContinuousClock.now
        try await write()
        let answered = ContinuousClock.now
        let arrivals = try await waitForBundleHints(after: position, timeout: timeout)
        let ordered = arrivals.sorted { $0.key < $1.key }.map(\.value)
        return PropagationRound(
            writeDuration: answered - started,
            latencies: ordered.map { max(.zero, $0 - answered) },
            latenciesFromStart: ordered.map { $0 - started },
            hintsBeforeAnswer: ordered.filter { $0 < answered }.count
        )
    }

    /// Waits until no bundle fetch has run and no `ready` or `bundle` event has arrived for `quiet`: the
    /// fetches a connect or a hint caused are over.
    ///
    /// - Parameters:
    ///   - quiet: How long nothing must have happened.
    ///   - timeout: How long to wait.
    /// - Returns: When the last activity happened (or now, if there was none).
    /// - Throws: ``Failure/timedOut(waitingFor:)`` (with the fetches still running), or `CancellationError`.
    @discardableResult
    public func waitUntilSettled(quiet: Duration = .seconds(1), timeout: Duration) async throws -> ContinuousClock.Instant {
        let deadline = ContinuousClock.now + timeout
        while true {
            let now = ContinuousClock.now
            let (running, last) = recorder.activity
            if running == 0, (last.map { now - $0 >= quiet } ?? true) {
                return last ?? now
            }
            guard now < deadline else {
                throw Failure.timedOut(waitingFor: running)
            }
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    /// What the simulator measured so far.
    public func report() -> SimulatorReport {
        recorder.report()
    }

    func wait(for condition: SimulatorRecorder.Condition, timeout: Duration) async throws -> [Int: ContinuousClock.Instant] {
        let recorder = recorder
        return try await withThrowingTaskGroup(of: [Int: ContinuousClock.Instant]?.self) { group in
            group.addTask { try await recorder.wait(for: condition) }
            group.addTask {
                try await Task.sleep(for: timeout)
                return nil
            }
            defer { group.cancelAll() }
            do {
                guard let arrivals = try await group.next() ?? nil else {
                    throw Failure.timedOut(waitingFor: recorder.missing(for: condition))
                }
                return arrivals
            } catch SimulatorRecorder.WaitFailure.simulatorStopped {
                throw Failure.stopped
            }
        }
    }

    // MARK: - Enrollment

    func hostname(_ index: Int) -> String {
        let digits = String(configuration.deviceCount).count
        let number = String(index + 1)
        return "\(configuration.hostnamePrefix)-" + String(repeating: "0", count: max(0, digits - number.count)) + number
    }

    private func enrollAll() async throws -> [(Int, AgentDevice)] {
        try await Self.map(Array(0..<configuration.deviceCount), atMost: configuration.concurrency) { index in
            (index, try await self.enroll(index))
        }
    }

    /// Runs `body` on every item, at most `limit` at once.
    ///
    /// - Returns: The results, in the order they finished.
    /// - Throws: The first error `body` throws (the calls still running are cancelled).
    static func map<Item: Sendable, Output: Sendable>(
        _ items: [Item],
        atMost limit: Int,
        _ body: @escaping @Sendable (Item) async throws -> Output
    ) async throws -> [Output] {
        try await withThrowingTaskGroup(of: Output.self) { group in
            var outputs: [Output] = []
            outputs.reserveCapacity(items.count)
            var pending = items.makeIterator()
            for _ in 0..<max(1, limit) {
                guard let item = pending.next() else { break }
                group.addTask { try await body(item) }
            }
            while let output = try await group.next() {
                outputs.append(output)
                if let item = pending.next() {
                    group.addTask { try await body(item) }
                }
            }
            return outputs
        }
    }

    private func enroll(_ index: Int) async throws -> AgentDevice {
        let hostname = hostname(index)
        var attempt = 0
        while true {
            let started = ContinuousClock.now
            do {
                let enrollment = try await client.enroll(
                    token: configuration.enrollmentTokens[index % configuration.enrollmentTokens.count],
                    hostname: hostname,
                    os: "Charter agent simulator"
                )
                guard !enrollment.isPendingApproval else {
                    throw Failure.enrollmentPending(hostname: hostname)
                }
                recorder.enrolled(index, isReenrollment: enrollment.isReenrollment, latency: .now - started)
                return AgentDevice(enrollment: enrollment, client: client)
            } catch let error as AgentError {
                recorder.failed("enroll: \(Self.kind(of: error))")
                attempt += 1
                guard error.isRetryable, attempt < configuration.maximumAttempts else {
                    throw Failure.enrollmentRefused(hostname: hostname, error)
                }
                try await Task.sleep(for: error.retryDelay ?? Backoff.overloaded.delay(attempt: attempt - 1))
            } catch is CancellationError {
                throw CancellationError()
            } catch {
                recorder.failed("enroll: \(Self.kind(of: error))")
                attempt += 1
                guard attempt < configuration.maximumAttempts else {
                    throw error
                }
                try await Task.sleep(for: Backoff.overloaded.delay(attempt: attempt - 1))
            }
        }
    }

    // MARK: - Devices

    /// What a device's stream asks of the rest of the device.
    private enum Signal: Sendable {
        /// Fetch the bundle.
        case fetch
        /// Take the bundle the service pushed.
        case pushed(PushedBundle)
        /// A `bundle` hint at `position` came on a stream that pushes bundles: fetch unless its bundle is pushed
        /// within `seconds`.
        case awaitPush(position: Int64, seconds: Int)
    }

    /// What a device does with its bundle, one at a time (later requests replace earlier waiting ones).
    private enum BundleWork: Sendable {
        case fetch
        case take(PushedBundle)
    }

    /// Runs one device: a stream task, a bundle task that fetches or takes pushed bundles (coalescing requests),
    /// and a task that fetches when a hint's pushed bundle does not come in time.
    private func simulate(_ device: AgentDevice, index: Int) async {
        let (bundleWork, requestWork) = AsyncStream.makeStream(of: BundleWork.self, bufferingPolicy: .bufferingNewest(1))
        let (pushWaits, awaitPush) = AsyncStream.makeStream(
            of: (position: Int64, seconds: Int).self, bufferingPolicy: .bufferingNewest(1)
        )
        let answered = PushedPosition()
        await withDiscardingTaskGroup { group in
            group.addTask {
                await self.stream(device, index: index) { signal in
                    switch signal {
                    case .fetch:
                        requestWork.yield(.fetch)
                    case .pushed(let bundle):
                        answered.record(bundle.position)
                        requestWork.yield(.take(bundle))
                    case .awaitPush(let position, let seconds):
                        answered.hint(position)
                        awaitPush.yield((position, seconds))
                    }
                }
                requestWork.finish()
                awaitPush.finish()
            }
            group.addTask {
                var device = device
                var unverifiedETag: String?
                for await work in bundleWork {
                    switch work {
                    case .fetch:
                        // A fetch started after a hint answers it as its push would (a reconnect's fetch, when
                        // the push went to the stream that closed).
                        let covered = answered.latestHint
                        await self.fetchGate.acquire()
                        await self.refresh(&device, unverifiedETag: &unverifiedETag)
                        await self.fetchGate.release()
                        answered.record(covered)
                    case .take(let bundle):
                        await self.take(bundle, into: &device, unverifiedETag: &unverifiedETag)
                    }
                }
            }
            group.addTask {
                for await (position, seconds) in pushWaits {
                    try? await Task.sleep(for: .seconds(seconds))
                    if !answered.answers(position) {
                        self.recorder.pushMissed()
                        requestWork.yield(.fetch)
                    }
                }
            }
        }
    }

    /// How one stream connection ended.
    private enum StreamEnd {
        case closed
        case idle
        case failed(any Error)
        case cancelled
    }

    /// Keeps the device's event stream open, reconnecting as the protocol says, until cancelled.
    private func stream(_ device: AgentDevice, index: Int, signal: @escaping @Sendable (Signal) -> Void) async {
        var device = device
        var lastEventID: String?
        var attempt = 0
        while !Task.isCancelled {
            let started = ContinuousClock.now
            var delay: Duration
            do {
                try await device.renewTokenIfDue()
                let stream = try await device.client.events(lastEventID: lastEventID)
                let (end, wasReady) = await consume(stream, index: index, started: started, signal: signal)
                lastEventID = stream.lastEventID ?? lastEventID
                attempt = wasReady ? 0 : attempt + 1
                switch end {
                case .cancelled:
                    return
                case .closed:
                    delay = stream.reconnectionTime ?? configuration.reconnectBackoff.delay(attempt: attempt)
                case .idle:
                    recorder.failed("events: heartbeat missed")
                    delay = configuration.reconnectBackoff.delay(attempt: attempt)
                case .failed(let error):
                    recorder.failed("events: \(Self.kind(of: error))")
                    delay = configuration.reconnectBackoff.delay(attempt: attempt)
                }
                recorder.disconnected(index)
            } catch let error as AgentError where error.isTokenExpired {
                // Renewed by signature at the next attempt, at once.
                recorder.failed("events: token expired")
                do {
                    try await device.renewToken()
                } catch {
                    logger.warning("device token renewal failed", metadata: ["device.index": "\(index)", "error": "\(error)"])
                    return
                }
                delay = .zero
            } catch let error as AgentError {
                recorder.failed("events: \(Self.kind(of: error))")
                guard error.isRetryable else {
                    // 401 (revoked) and other refusals: retrying the same request does not help.
                    logger.warning("event stream refused", metadata: ["device.index": "\(index)", "error": "\(error)"])
                    return
                }
                delay = error.retryDelay ?? Backoff.overloaded.delay(attempt: attempt)
                attempt += 1
            } catch {
                guard !(error is CancellationError), !Task.isCancelled else {
                    return
                }
                recorder.failed("events: \(Self.kind(of: error))")
                delay = configuration.reconnectBackoff.delay(attempt: attempt)
                attempt += 1
            }
            do {
                try await Task.sleep(for: delay)
            } catch {
                return
            }
        }
    }

    /// Reads one stream until it ends, is silent too long, or the task is cancelled.
    ///
    /// - Returns: How it ended, and whether it delivered `ready`.
    private func consume(
        _ stream: ServerSentEventStream,
        index: Int,
        started: ContinuousClock.Instant,
        signal: @escaping @Sendable (Signal) -> Void
    ) async -> (StreamEnd, Bool) {
        let recorder = recorder
        return await withTaskGroup(of: (StreamEnd, Bool).self) { group in
            group.addTask {
                var wasReady = false
                var pushSeconds: Int?
                do {
                    for try await event in stream {
                        let now = ContinuousClock.now
                        recorder.received(event, on: index, at: now)
                        switch event.agentEvent {
                        case .ready(_, let heartbeatSeconds, let bundlePushSeconds):
                            if !wasReady {
                                recorder.connected(index, heartbeatSeconds: heartbeatSeconds, latency: now - started)
                            }
                            wasReady = true
                            pushSeconds = bundlePushSeconds
                            signal(.fetch)
                        case .bundle:
                            if let pushSeconds, let position = event.position {
                                signal(.awaitPush(position: Int64(clamping: position), seconds: pushSeconds))
                            } else {
                                signal(.fetch)
                            }
                        case .currentBundle(let bundle):
                            signal(.pushed(bundle))
                        case .decision(let requestID, _):
                            recorder.decided(requestID, at: now)
                        case .other:
                            break
                        }
                    }
                    return (.closed, wasReady)
                } catch is CancellationError {
                    return (.cancelled, wasReady)
                } catch {
                    return (Task.isCancelled ? .cancelled : .failed(error), wasReady)
                }
            }
            group.addTask {
                // The watchdog: a stream without a byte for 3 × heartbeat_seconds is dead.
                while true {
                    let silence = Duration.seconds(3 * recorder.heartbeatSeconds(of: index))
                    let deadline = stream.lastActivity + silence
                    guard deadline > .now else {
                        return (.idle, false)
                    }
                    do {
                        try await Task.sleep(until: deadline)
                    } catch {
                        return (.cancelled, false)
                    }
                }
            }
            let first = await group.next() ?? (.cancelled, false)
            group.cancelAll()
            // When the watchdog fired, the reader's answer (now cancelled) still says whether `ready` came.
            let second = await group.next() ?? (.cancelled, false)
            if case .idle = first.0 {
                return (.idle, second.1)
            }
            return first
        }
    }

    /// Verifies and keeps a pushed bundle, as ``refresh(_:unverifiedETag:)`` does a fetched one.
    private func take(_ bundle: PushedBundle, into device: inout AgentDevice, unverifiedETag: inout String?) async {
        recorder.fetchStarted()
        defer { recorder.fetchEnded() }
        guard configuration.verifiesBundles else {
            recorder.pushed(accepted: bundle.etag != unverifiedETag, verified: false)
            unverifiedETag = bundle.etag
            return
        }
        do {
            let outcome = try device.accept(bundle)
            if case .accepted = outcome {
                recorder.pushed(accepted: true, verified: true)
            } else {
                recorder.pushed(accepted: false, verified: true)
            }
        } catch {
            recorder.rejected(code: error.code)
            logger.warning("pushed bundle rejected", metadata: ["device.id": "\(device.enrollment.deviceID)", "bundle.error": "\(error.code)"])
            do {
                try await device.reportRejection(error)
            } catch {
                recorder.failed("audit: \(Self.kind(of: error))")
            }
        }
    }

    /// Fetches and verifies the device's bundle, retrying `429`/`503`.
    private func refresh(_ device: inout AgentDevice, unverifiedETag: inout String?) async {
        recorder.fetchStarted()
        defer { recorder.fetchEnded() }
        var attempt = 0
        while !Task.isCancelled {
            let started = ContinuousClock.now
            do {
                guard configuration.verifiesBundles else {
                    switch try await device.client.fetchBundle(ifNoneMatch: unverifiedETag) {
                    case .notModified:
                        recorder.fetched(accepted: false, latency: .now - started)
                    case .bundle(_, let etag, _):
                        unverifiedETag = etag
                        recorder.fetchedUnverified(latency: .now - started)
                    }
                    return
                }
                let outcome = try await device.refreshBundle()
                if case .accepted = outcome {
                    recorder.fetched(accepted: true, latency: .now - started)
                } else {
                    recorder.fetched(accepted: false, latency: .now - started)
                }
                return
            } catch let error as BundleError {
                recorder.rejected(code: error.code)
                logger.warning("bundle rejected", metadata: ["device.id": "\(device.enrollment.deviceID)", "bundle.error": "\(error.code)"])
                do {
                    try await device.reportRejection(error)
                } catch {
                    recorder.failed("audit: \(Self.kind(of: error))")
                }
                return
            } catch let error as AgentError where error.isRetryable && attempt + 1 < configuration.maximumAttempts {
                recorder.failed("bundle: \(Self.kind(of: error))")
                attempt += 1
                do {
                    try await Task.sleep(for: error.retryDelay ?? Backoff.overloaded.delay(attempt: attempt - 1))
                } catch {
                    return
                }
            } catch {
                if !(error is CancellationError), !Task.isCancelled {
                    recorder.failed("bundle: \(Self.kind(of: error))")
                }
                return
            }
        }
    }

    /// A short, bounded name for a failure, to count failures by.
    private static func kind(of error: any Error) -> String {
        switch error {
        case let error as AgentError:
            switch error {
            case .status(let status, _, _): "HTTP \(status)"
            case .invalidResponse: "invalid answer"
            }
        case let error as HTTPClientError:
            "\(error)"
        default:
            String(describing: type(of: error))
        }
    }
}

extension AgentError {
    /// The `Retry-After` delay, when the service gave one.
    var retryDelay: Duration? {
        if case .status(_, _, let retryAfter) = self { retryAfter } else { nil }
    }
}

/// The newest feed position a device's pushed bundles answered.
private final class PushedPosition: Sendable {
    private let position = Mutex<Int64>(0)
    private let hinted = Mutex<Int64>(0)

    func record(_ answered: Int64) {
        position.withLock { $0 = max($0, answered) }
    }

    /// Notes a `bundle` hint whose push is awaited.
    func hint(_ hint: Int64) {
        hinted.withLock { $0 = max($0, hint) }
    }

    /// The newest hint noted: a fetch started now answers it.
    var latestHint: Int64 { hinted.withLock { $0 } }

    /// Whether a hint at `hint` is answered.
    func answers(_ hint: Int64) -> Bool {
        position.withLock { $0 >= hint }
    }
}

/// At most `permits` bundle fetches at once, the others waiting in arrival order.
private actor FetchGate {
    private var available: Int
    private var waiters: [CheckedContinuation<Void, Never>] = []
    private var head = 0

    init(permits: Int) {
        available = permits
    }

    func acquire() async {
        if available > 0 {
            available -= 1
            return
        }
        await withCheckedContinuation { waiters.append($0) }
    }

    func release() {
        guard head < waiters.count else {
            available += 1
            return
        }
        let next = waiters[head]
        head += 1
        if head > 1024, head * 2 > waiters.count {
            waiters.removeFirst(head)
            head = 0
        }
        next.resume()
    }
}
