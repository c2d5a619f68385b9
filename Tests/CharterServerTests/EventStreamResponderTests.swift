@testable import CharterServer
import Hummingbird
import Logging
import NIOEmbedded
import Testing

/// Event streams are answered from a child task; other requests in the caller's task.
@Suite("Event stream responder")
struct EventStreamResponderTests {
    /// Answers with the hash of the task it runs in; `/fails` throws.
    struct TaskRecorder: HTTPResponder {
        struct Refused: Error {}

        func respond(to request: Request, context: BasicRequestContext) async throws -> Response {
            if request.uri.path == "/fails" { throw Refused() }
            let task = withUnsafeCurrentTask { $0?.hashValue } ?? 0
            return Response(status: .ok, headers: [.init("X-Task")!: "\(task)"])
        }
    }

    static func answer(_ path: String) async throws -> (caller: Int, responder: Int) {
        let responder = EventStreamResponder(inner: TaskRecorder(), streamPaths: ["/stream", "/fails"])
        let context = BasicRequestContext(source: .init(channel: EmbeddedChannel(), logger: Logger(label: "test")))
        let request = Request(
            head: .init(method: .get, scheme: "http", authority: "localhost", path: path), body: .init(buffer: .init())
        )
        let response = try await responder.respond(to: request, context: context)
        let caller = withUnsafeCurrentTask { $0?.hashValue } ?? 0
        return (caller, Int(try #require(response.headers[.init("X-Task")!])) ?? 0)
    }

    @Test("a stream path is answered from a task of its own, another path from the caller's")
    func childTask() async throws {
        let stream = try await Self.answer("/stream")
        #expect(stream.responder != 0 && stream.responder != stream.caller)
        let other = try await Self.answer("/v1/agent/checkin")
        #expect(other.responder != 0 && other.responder == other.caller)
    }

    @Test("an error of the responder reaches the caller")
    func error() async throws {
        await #expect(throws: TaskRecorder.Refused.self) { try await Self.answer("/fails") }
    }
}
