package import AsyncHTTPClient
import CharterAgent
import CharterAgentWire
import Foundation
package import Logging
import ServiceLifecycle
import Synchronization

/// `charter connector run`: enrolls when needed, then heartbeats, holds the event stream and uploads the runs the
/// service assigns, until graceful shutdown (docs/connector.md).
///
/// Three loops run side by side: heartbeats every `heartbeat_seconds` (at once after start and on a
/// `configuration` hint) with the DCs' reachability; the event stream (SSE with `Last-Event-ID`, reconnected with
/// jittered backoff, replaced by long polls when a proxy breaks streaming); and the work loop, which reads
/// `GET /v1/connector/work` after every (re)connect and `sync` hint and performs the runs one at a time. A `426`
/// logs one line and retries hourly; a refused identity (`401` other than an expired token) stops the service.
package struct ConnectorService: Service {
    package let configuration: ConnectorConfiguration
    package let httpClient: HTTPClient
    package let hostname: String
    package let logger: Logger

    /// How long after a `426` the connector tries again.
    package static let updateRetry = Duration.seconds(3600)
    /// Event-stream reconnects and retries of the other calls after a network error.
    static let backoff = Backoff.eventStream

    package init(configuration: ConnectorConfiguration, httpClient: HTTPClient, hostname: String, logger: Logger) {
        self.configuration = configuration
        self.httpClient = httpClient
        self.hostname = hostname
        self.logger = logger
    }

    package func run() async throws {
        try await cancelWhenGracefulShutdown {
            try await self.runUntilCancelled()
        }
    }

    private func runUntilCancelled() async throws {
        let client = ConnectorClient(httpClient: httpClient, baseURL: configuration.serviceURL, logger: logger)
        var attempt = 0
        while true {
            do {
                let session = try await ConnectorSession.open(configuration, client: client, hostname: hostname, logger: logger)
                try await runLoops(session)
                return
            } catch ConnectorError.updateRequired(let detail) {
                logger.error(
                    "connector update required",
                    metadata: ["protocol": "\(ConnectorProtocol.version)", "detail": "\(detail)", "retry.seconds": "3600"]
                )
                try await Task.sleep(for: Self.updateRetry)
            } catch let error where RunUploader.isTransient(error) {
                logger.warning("connector cannot reach the service", metadata: ["error": "\(error)"])
                try await Task.sleep(for: Self.backoff.delay(attempt: attempt))
                attempt += 1
            }
        }
    }

    private func runLoops(_ session: ConnectorSession) async throws {
        let connectorID = await session.state.connectorID
        logger.notice(
            "connector started", metadata: ["connector.id": "\(connectorID)", "service.url": "\(configuration.serviceURL)"]
        )
        let (workHints, work) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        let (heartbeatHints, heartbeat) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        let interval = SharedInt(10)
        // Each heartbeat's end starts the wait for the next, with the interval its answer set: a wait begun before
        // the first answer would keep the default 10 s even when the service asks for less.
        let (beaten, beat) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        let directory = SiteDirectory(configuration: configuration, logger: logger)
        try await withThrowingDiscardingTaskGroup { group in
            group.addTask {
                heartbeat.yield()
                for await _ in beaten {
                    try await Task.sleep(for: .seconds(interval.value))
                    heartbeat.yield()
                }
            }
            group.addTask {
                try await self.heartbeats(
                    session, directory: directory, hints: heartbeatHints, interval: interval, work: work, beat: beat
                )
            }
            group.addTask {
                try await self.events(session, work: work, heartbeat: heartbeat)
            }
            group.addTask {
                let uploader = RunUploader(session: session, directory: directory, logger: self.logger)
                for await _ in workHints {
                    try await self.performWork(session, uploader: uploader)
                }
            }
        }
    }

    // MARK: - Heartbeats

    private func heartbeats(
        _ session: ConnectorSession, directory: SiteDirectory, hints: AsyncStream<Void>, interval: SharedInt,
        work: AsyncStream<Void>.Continuation, beat: AsyncStream<Void>.Continuation
    ) async throws {
        var probe = DomainControllerProbe()
        var assignments: [ConnectorAssignment] = []
        for await _ in hints {
            let statuses = await probe.status(of: directory)
            let body = ConnectorHeartbeat(
                version: ConnectorProtocolVersion.connectorVersion, hostname: hostname, domainControllers: statuses
            )
            do {
                let answer = try await session.call { token in try await session.client.heartbeat(body, token: token) }
                interval.value = max(1, answer.heartbeatSeconds)
                let now = answer.connections.map { ConnectorAssignment(connectionID: $0.connectionID, name: $0.name, active: $0.active, leaseExpiresAt: nil) }
                if now != assignments {
                    // A connection this connector just became active for (a takeover) may have a run waiting.
                    let activated = now.contains { current in
                        current.active && !assignments.contains { $0.connectionID == current.connectionID && $0.active }
                    }
                    if activated { work.yield() }
                    assignments = now
                    logger.info(
                        "connector assignments",
                        metadata: ["connections": "\(now.map { "\($0.name)\($0.active ? " (active)" : "")" })"]
                    )
                }
            } catch let error where RunUploader.isTransient(error) || Self.isRefusalToLog(error) {
                logger.warning("connector heartbeat failed", metadata: ["error": "\(error)"])
            }
            beat.yield()
        }
    }

    // MARK: - Events

    /// The longest a stream may stay silent (3 × the service's 15 s heartbeat comments) before it is dropped.
    static let streamIdleLimit = Duration.seconds(45)

    private struct StreamIdle: Error {}

    private func events(
        _ session: ConnectorSession, work: AsyncStream<Void>.Continuation, heartbeat: AsyncStream<Void>.Continuation
    ) async throws {
        var lastEventID: String?
        var attempt = 0
        var silentStreams = 0
        var polling = false
        while true {
            do {
                if polling {
                    let poll = try await session.call { token in
                        try await session.client.pollEvents(lastEventID: lastEventID, token: token)
                    }
                    if lastEventID == nil { work.yield() }
                    lastEventID = poll.lastEventID
                    for event in poll.events { handle(event.event, work: work, heartbeat: heartbeat) }
                    attempt = 0
                    continue
                }
                let stream = try await session.call { token in
                    try await session.client.events(lastEventID: lastEventID, token: token)
                }
                attempt = 0
                let events = SharedInt(0)
                defer { lastEventID = stream.lastEventID ?? lastEventID }
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask {
                        for try await event in stream {
                            events.value += 1
                            self.handle(event.type, work: work, heartbeat: heartbeat)
                        }
                    }
                    group.addTask {
                        while true {
                            let silent = ContinuousClock.now - stream.lastActivity
                            if silent >= Self.streamIdleLimit { throw StreamIdle() }
                            try await Task.sleep(for: Self.streamIdleLimit - silent)
                        }
                    }
                    try await group.next()
                    group.cancelAll()
                }
                lastEventID = stream.lastEventID ?? lastEventID
                // A stream that ends before any event twice in a row is broken by something in between: poll.
                silentStreams = events.value == 0 ? silentStreams + 1 : 0
                if silentStreams >= 2 {
                    polling = true
                    logger.notice("connector event stream delivers nothing; long-polling instead")
                }
                try await Task.sleep(for: stream.reconnectionTime ?? .seconds(5))
            } catch let error where error is StreamIdle || RunUploader.isTransient(error) || Self.isRefusalToLog(error) {
                logger.info("connector event stream lost", metadata: ["error": "\(error)"])
                if error is StreamIdle { silentStreams += 1 }
                if silentStreams >= 3, !polling {
                    polling = true
                    logger.notice("connector event stream keeps failing; long-polling instead")
                }
                try await Task.sleep(for: Self.backoff.delay(attempt: attempt))
                attempt += 1
            }
        }
    }

    private func handle(
        _ type: String, work: AsyncStream<Void>.Continuation, heartbeat: AsyncStream<Void>.Continuation
    ) {
        switch type {
        case "ready", "sync": work.yield()
        case "configuration": heartbeat.yield()
        case "update":
            logger.error("connector update required", metadata: ["protocol": "\(ConnectorProtocol.version)"])
        default: break
        }
    }

    /// A `4xx` answer other than `401` (the identity is refused: stop) and `426` (handled by the caller), which
    /// the service would give again: logged, and the loop goes on.
    package static func isRefusalToLog(_ error: any Error) -> Bool {
        var answer = error as? AgentError
        if let stop = error as? RunUploader.Stop, case .refused(let refused) = stop { answer = refused }
        guard let answer else { return false }
        // An answer that breaks the protocol (no status) is logged too.
        guard let status = answer.statusCode else { return true }
        return (400...499).contains(status) && status != 401
    }

    // MARK: - Work

    private func performWork(_ session: ConnectorSession, uploader: RunUploader) async throws {
        var attempt = 0
        while true {
            do {
                let work = try await session.call { token in try await session.client.work(token: token) }
                for run in work.runs {
                    _ = try await uploader.perform(run)
                }
                return
            } catch let error where Self.isRefusalToLog(error) {
                // A refusal of this connector's call that a retry would not change: wait for the next hint.
                logger.warning("connector work refused", metadata: ["error": "\(error)"])
                return
            } catch let error where RunUploader.isTransient(error) {
                logger.warning("connector work failed; retrying", metadata: ["error": "\(error)"])
                try await Task.sleep(for: Self.backoff.delay(attempt: attempt))
                attempt += 1
            }
        }
    }
}

/// An integer several tasks of the service read and write (the heartbeat interval, a stream's event count).
final class SharedInt: Sendable {
    private let mutex: Mutex<Int>

    init(_ value: Int) {
        mutex = Mutex(value)
    }

    var value: Int {
        get { mutex.withLock { $0 } }
        set { mutex.withLock { $0 = newValue } }
    }
}
