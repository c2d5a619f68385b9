public import AsyncHTTPClient
internal import NIOCore
internal import Synchronization

/// The events of one open `GET /v1/agent/events` stream, parsed as the body arrives.
///
/// Iterate it once. Besides the events, it tracks what a reconnecting agent needs: the stream's
/// ``lastEventID`` (updated by events and by id-only blocks), the ``reconnectionTime`` the service
/// asked for, and the ``lastActivity`` instant at which any byte (a heartbeat comment included)
/// last arrived, for the idle watchdog. These can be read from any task while iterating.
/// Cancelling the iterating task closes the connection.
public struct ServerSentEventStream: AsyncSequence, Sendable {
    /// An event of the stream.
    public typealias Element = ServerSentEvent

    private let body: HTTPClientResponse.Body
    private let state: State

    /// Creates a stream over a response body.
    ///
    /// - Parameters:
    ///   - body: The body of a `text/event-stream` answer.
    ///   - lastEventID: The id sent as `Last-Event-ID`, which stays the last event id until the stream sets one.
    public init(body: HTTPClientResponse.Body, lastEventID: String? = nil) {
        self.body = body
        self.state = State(lastEventID: lastEventID)
    }

    /// The stream's last event id, to send as `Last-Event-ID` on reconnect (`nil` before any).
    public var lastEventID: String? {
        state.snapshot.lastEventID
    }

    /// The reconnection time the service sent with `retry`, if any.
    public var reconnectionTime: Duration? {
        state.snapshot.reconnectionTime
    }

    /// When bytes last arrived (or the stream was opened).
    public var lastActivity: ContinuousClock.Instant {
        state.snapshot.lastActivity
    }

    /// Creates the iterator.
    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(body: body.makeAsyncIterator(), state: state, lastEventID: state.snapshot.lastEventID ?? "")
    }

    /// Reads the body chunk by chunk and yields the events it completes.
    public struct AsyncIterator: AsyncIteratorProtocol {
        private var body: HTTPClientResponse.Body.AsyncIterator
        private let state: State
        private var parser: ServerSentEventParser
        private var pending: [ServerSentEvent] = []

        fileprivate init(body: HTTPClientResponse.Body.AsyncIterator, state: State, lastEventID: String) {
            self.body = body
            self.state = state
            self.parser = ServerSentEventParser(lastEventID: lastEventID)
        }

        /// The next event, or `nil` when the service closed the stream.
        ///
        /// - Throws: The transport's error, or `CancellationError` when the task is cancelled.
        @concurrent public mutating func next() async throws -> ServerSentEvent? {
            while pending.isEmpty {
                guard let chunk = try await body.next() else {
                    return nil
                }
                pending = parser.parse(chunk.readableBytesView)
                state.update(with: parser)
            }
            return pending.removeFirst()
        }
    }

    /// What the iterator shares with observers of the stream.
    fileprivate final class State: Sendable {
        struct Snapshot {
            var lastEventID: String?
            var reconnectionTime: Duration?
            var lastActivity = ContinuousClock.now
        }

        private let mutex: Mutex<Snapshot>

        init(lastEventID: String?) {
            mutex = Mutex(Snapshot(lastEventID: lastEventID))
        }

        var snapshot: Snapshot {
            mutex.withLock { $0 }
        }

        func update(with parser: ServerSentEventParser) {
            let now = ContinuousClock.now
            mutex.withLock { snapshot in
                snapshot.lastActivity = now
                snapshot.lastEventID = parser.lastEventID.isEmpty ? nil : parser.lastEventID
                if let retry = parser.reconnectionTime {
                    snapshot.reconnectionTime = retry
                }
            }
        }
    }
}
