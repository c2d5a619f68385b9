import AsyncHTTPClient
import CharterAgent
import NIOCore
import Testing

@Suite("Server-sent event stream")
struct ServerSentEventStreamTests {
    private static func body(_ chunks: [String]) -> HTTPClientResponse.Body {
        let (stream, continuation) = AsyncStream.makeStream(of: ByteBuffer.self)
        for chunk in chunks {
            continuation.yield(ByteBuffer(string: chunk))
        }
        continuation.finish()
        return .stream(stream)
    }

    @Test("events come out of arbitrary chunks, and the stream keeps the last id and retry")
    func chunks() async throws {
        let stream = ServerSentEventStream(
            body: Self.body(["retry: 50", "00\r\n\r", "\nid: 10", "40\nevent: bun", "dle\ndata: {}\n", "\n: heartbeat\n\nid: 1041\n\n"]),
            lastEventID: "1031"
        )
        #expect(stream.lastEventID == "1031")
        var events: [ServerSentEvent] = []
        for try await event in stream {
            events.append(event)
        }
        #expect(events == [ServerSentEvent(type: "bundle", data: "{}", lastEventID: "1040")])
        #expect(stream.lastEventID == "1041")
        #expect(stream.reconnectionTime == .milliseconds(5000))
    }

    @Test("replayed events without an id keep the Last-Event-ID sent")
    func initialID() async throws {
        let stream = ServerSentEventStream(body: Self.body(["data: x\n\n"]), lastEventID: "7")
        var ids: [String] = []
        for try await event in stream {
            ids.append(event.lastEventID)
        }
        #expect(ids == ["7"])
        #expect(stream.lastEventID == "7")
    }

    @Test("a heartbeat moves the last activity forward")
    func activity() async throws {
        let stream = ServerSentEventStream(body: Self.body([": heartbeat\n\n"]))
        let opened = stream.lastActivity
        #expect(stream.lastEventID == nil)
        for try await _ in stream {}
        #expect(stream.lastActivity >= opened)
        #expect(stream.reconnectionTime == nil)
    }
}
