import CharterAgent
import Testing

/// Parses a whole stream in one chunk.
private func parse(_ text: String, lastEventID: String = "") -> (events: [ServerSentEvent], parser: ServerSentEventParser) {
    parse(Array(text.utf8), lastEventID: lastEventID)
}

private func parse(_ bytes: [UInt8], lastEventID: String = "") -> (events: [ServerSentEvent], parser: ServerSentEventParser) {
    var parser = ServerSentEventParser(lastEventID: lastEventID)
    let events = parser.parse(bytes)
    return (events, parser)
}

/// Parses a stream cut into chunks at the given offsets.
private func parse(_ bytes: [UInt8], cuttingAt cuts: [Int]) -> (events: [ServerSentEvent], parser: ServerSentEventParser) {
    var parser = ServerSentEventParser()
    var events: [ServerSentEvent] = []
    var start = 0
    for cut in cuts + [bytes.count] {
        events += parser.parse(bytes[start..<cut])
        start = cut
    }
    return (events, parser)
}

@Suite("Server-sent event parser")
struct ServerSentEventParserTests {
    // MARK: - The WHATWG standard's examples

    @Test("data lines are joined with line feeds")
    func multiLineData() {
        let (events, _) = parse("data: YHOO\ndata: +2\ndata: 10\n\n")
        #expect(events == [ServerSentEvent(data: "YHOO\n+2\n10")])
    }

    @Test("ids persist, a valueless id resets it, one leading space is removed")
    func idsAndSpaces() {
        let (events, parser) = parse(": test stream\n\ndata: first event\nid: 1\n\ndata:second event\nid\n\ndata:  third event\n\n")
        #expect(
            events == [
                ServerSentEvent(data: "first event", lastEventID: "1"),
                ServerSentEvent(data: "second event", lastEventID: ""),
                ServerSentEvent(data: " third event", lastEventID: ""),
            ]
        )
        #expect(parser.lastEventID == "")
    }

    @Test("a field name alone is a field with an empty value; an unfinished event is never dispatched")
    func emptyDataAndTruncation() {
        let (events, _) = parse("data\n\ndata\ndata\n\ndata:")
        #expect(events == [ServerSentEvent(data: ""), ServerSentEvent(data: "\n")])
    }

    @Test("a space after the colon is optional")
    func optionalSpace() {
        let (events, _) = parse("data:test\n\ndata: test\n\n")
        #expect(events == [ServerSentEvent(data: "test"), ServerSentEvent(data: "test")])
    }

    // MARK: - Lines

    /// Pairs of line ends to alternate; a CR followed by an LF would be one CRLF, so that pair is left out.
    static let lineEndPairs: [(String, String)] = ["\n", "\r", "\r\n"].flatMap { first in
        ["\n", "\r", "\r\n"].compactMap { second in first == "\r" && second.hasPrefix("\n") ? nil : (first, second) }
    }

    @Test("lines end with LF, CR or CRLF, mixed freely", arguments: lineEndPairs)
    func lineEndings(first: String, second: String) {
        let (events, _) = parse("event: a\(first)data: 1\(second)data: 2\(first)\(second)data: 3\(second)\(second)")
        #expect(events == [ServerSentEvent(type: "a", data: "1\n2"), ServerSentEvent(data: "3")])
    }

    @Test("CR CR is two line ends, so it dispatches; LF CR too")
    func lonelyCarriageReturns() {
        #expect(parse("data: x\r\r").events == [ServerSentEvent(data: "x")])
        #expect(parse("data: x\n\r").events == [ServerSentEvent(data: "x")])
        #expect(parse("data: x\r\n\r\n").events == [ServerSentEvent(data: "x")])
    }

    @Test("a line that is not ended when the stream ends is discarded")
    func unterminatedLine() {
        let (events, parser) = parse("id: 7\ndata: x\n\nid: 8\ndata: y\n")
        #expect(events == [ServerSentEvent(data: "x", lastEventID: "7")])
        #expect(parser.lastEventID == "7")
    }

    // MARK: - Fields

    @Test("comments are ignored, also between the fields of one event")
    func comments() {
        let (events, _) = parse(": heartbeat\n\ndata: a\n: in between\ndata: b\n\n:\n\n")
        #expect(events == [ServerSentEvent(data: "a\nb")])
    }

    @Test("the first colon separates field and value; later colons belong to the value")
    func colonsInValue() {
        let (events, _) = parse("data: {\"a\":\"b:c\"}\n\n")
        #expect(events == [ServerSentEvent(data: "{\"a\":\"b:c\"}")])
    }

    @Test("unknown fields are ignored and field names are case-sensitive")
    func unknownFields() {
        let (events, _) = parse("Data: no\nfoo: bar\nEVENT: x\nID: 3\ndata: yes\n\n")
        #expect(events == [ServerSentEvent(data: "yes")])
    }

    @Test("the event type defaults to message and resets after each dispatch")
    func eventType() {
        let (events, _) = parse("event: bundle\ndata: {}\n\ndata: plain\n\nevent:\ndata: empty type\n\n")
        #expect(events.map(\.type) == ["bundle", "message", "message"])
    }

    @Test("a block without data dispatches nothing and its type does not leak into the next event")
    func blockWithoutData() {
        let (events, _) = parse("event: lonely\n\ndata: x\n\n")
        #expect(events == [ServerSentEvent(data: "x")])
    }

    @Test("an id-only block updates the last event id without an event")
    func idOnlyBlock() {
        let (events, parser) = parse("id: 41\n\n")
        #expect(events.isEmpty)
        #expect(parser.lastEventID == "41")
    }

    @Test("an id applies from the dispatch of the block that sets it, not earlier")
    func idTakesEffectAtDispatch() {
        var parser = ServerSentEventParser()
        _ = parser.parse(Array("id: 9\ndata: x\n".utf8))
        #expect(parser.lastEventID == "")
        #expect(parser.parse(Array("\n".utf8)) == [ServerSentEvent(data: "x", lastEventID: "9")])
        #expect(parser.lastEventID == "9")
    }

    @Test("an id containing NUL is ignored")
    func idWithNull() {
        let (events, parser) = parse("id: 1\n\nid: 2\u{0}3\ndata: x\n\n")
        #expect(events == [ServerSentEvent(data: "x", lastEventID: "1")])
        #expect(parser.lastEventID == "1")
    }

    @Test("the id sent as Last-Event-ID stays the last event id until the stream sets one")
    func initialLastEventID() {
        let (events, parser) = parse("data: replayed\n\n", lastEventID: "1031")
        #expect(events == [ServerSentEvent(data: "replayed", lastEventID: "1031")])
        #expect(parser.lastEventID == "1031")
    }

    @Test("retry sets the reconnection time only when it is all ASCII digits", arguments: [
        ("retry: 5000\n\n", Duration?.some(.milliseconds(5000))),
        ("retry:0\n", .some(.zero)),
        ("retry: 5s\n", nil),
        ("retry: -1\n", nil),
        ("retry: 1.5\n", nil),
        ("retry:\n", nil),
        ("retry\n", nil),
        ("retry:  100\n", nil),
        ("retry: ١٢\n", nil),
    ])
    func retry(input: String, expected: Duration?) {
        let (events, parser) = parse(input)
        #expect(events.isEmpty)
        #expect(parser.reconnectionTime == expected)
    }

    @Test("an invalid retry keeps the earlier reconnection time")
    func retryKept() {
        #expect(parse("retry: 250\nretry: soon\n\n").parser.reconnectionTime == .milliseconds(250))
    }

    // MARK: - Encoding

    @Test("one leading BOM is skipped; a second one is text")
    func byteOrderMark() {
        #expect(parse("\u{FEFF}data: x\n\n").events == [ServerSentEvent(data: "x")])
        // The second BOM makes the field name "\u{FEFF}data", which is unknown.
        #expect(parse("\u{FEFF}\u{FEFF}data: x\n\ndata: y\n\n").events == [ServerSentEvent(data: "y")])
        #expect(parse("data: \u{FEFF}x\n\n").events == [ServerSentEvent(data: "\u{FEFF}x")])
    }

    @Test("bytes that start like a BOM but are not one are kept")
    func almostByteOrderMark() {
        let bytes: [UInt8] = [0xEF, 0xBB] + Array("data: x\n\n".utf8)
        // The two bytes become U+FFFD in the field name, so the line is an unknown field.
        #expect(parse(bytes).events.isEmpty)
        let inData: [UInt8] = Array("data: ".utf8) + [0xEF, 0xBB, 0xBF] + Array("\n\n".utf8)
        #expect(parse(inData).events == [ServerSentEvent(data: "\u{FEFF}")])
    }

    @Test("invalid UTF-8 decodes to U+FFFD")
    func invalidUTF8() {
        let bytes: [UInt8] = Array("data: a".utf8) + [0xC3] + Array("\ndata: ".utf8) + [0xFF, 0x62] + Array("\n\n".utf8)
        #expect(parse(bytes).events == [ServerSentEvent(data: "a\u{FFFD}\n\u{FFFD}b")])
    }

    // MARK: - Chunk boundaries

    static let corpora: [[UInt8]] = [
        Array("\u{FEFF}retry: 5000\r\n\r\nid: 1040\r\nevent: bundle\r\ndata: {\"reason\":\"policy\"}\r\n\r\n".utf8),
        Array(": heartbeat\r\rid: 7\rdata: é€😀 and ∑\rdata:two\r\r".utf8),
        Array("data: 😀😀\n\nid: 2\u{0}\nevent: x\ndata\n\n: c\r\ndata: z\r\n\r\n".utf8),
        [0xEF, 0xBB, 0xBF, 0xEF, 0xBB] + Array("x\ndata: é\r\n\r\n".utf8),
    ]

    @Test("every cut into two chunks gives the same events and state", arguments: corpora)
    func everyTwoChunkCut(bytes: [UInt8]) {
        let whole = parse(bytes)
        #expect(!whole.events.isEmpty)
        for cut in 0...bytes.count {
            let chunked = parse(bytes, cuttingAt: [cut])
            #expect(chunked.events == whole.events, "cut at \(cut)")
            #expect(chunked.parser.lastEventID == whole.parser.lastEventID)
            #expect(chunked.parser.reconnectionTime == whole.parser.reconnectionTime)
        }
    }

    @Test("byte-by-byte and three-chunk cuts give the same events", arguments: corpora)
    func finerCuts(bytes: [UInt8]) {
        let whole = parse(bytes).events
        #expect(parse(bytes, cuttingAt: Array(0..<bytes.count)).events == whole)
        for first in stride(from: 0, through: bytes.count, by: 3) {
            for second in first...bytes.count {
                #expect(parse(bytes, cuttingAt: [first, second]).events == whole)
            }
        }
    }

    @Test("a CRLF cut between CR and LF is one line end, not two")
    func crlfAcrossChunks() {
        var parser = ServerSentEventParser()
        #expect(parser.parse(Array("data: a\r".utf8)).isEmpty)
        // Were the LF a second line end, this would dispatch "a" now, and "b" would be alone.
        #expect(parser.parse(Array("\ndata: b\r".utf8)).isEmpty)
        #expect(parser.parse(Array("\n\r\n".utf8)) == [ServerSentEvent(data: "a\nb")])
    }

    @Test("a UTF-8 sequence cut across chunks decodes whole")
    func utf8AcrossChunks() {
        var parser = ServerSentEventParser()
        let bytes = Array("data: 😀\n\n".utf8)
        #expect(parser.parse(bytes[0..<8]).isEmpty)
        #expect(parser.parse(bytes[8..<9]).isEmpty)
        #expect(parser.parse(bytes[9...]) == [ServerSentEvent(data: "😀")])
    }

    // MARK: - The protocol's stream

    @Test("the agent-protocol example stream")
    func protocolExample() {
        let stream = """
            retry: 5000

            id: 1040
            event: bundle
            data: {"reason":"policy"}

            id: 1052
            event: ready
            data: {"device_id":"3f1d0c9a-7b2e-4c5d-8e9f-0a1b2c3d4e5f","heartbeat_seconds":15}

            : heartbeat

            id: 1068
            event: bundle
            data: {"reason":"policy"}

            id: 1071
            event: decision
            data: {"request_id":"a7c3","status":"approved"}

            id: 1072
            event: future_thing
            data: whatever


            """
        let (events, parser) = parse(stream)
        #expect(parser.reconnectionTime == .milliseconds(5000))
        #expect(parser.lastEventID == "1072")
        #expect(events.map(\.position) == [1040, 1052, 1068, 1071, 1072])
        #expect(
            events.map(\.agentEvent) == [
                .bundle(reason: "policy"),
                .ready(deviceID: "3f1d0c9a-7b2e-4c5d-8e9f-0a1b2c3d4e5f", heartbeatSeconds: 15, bundlePushSeconds: nil),
                .bundle(reason: "policy"),
                .decision(requestID: "a7c3", status: "approved"),
                .other(type: "future_thing"),
            ]
        )
    }
}
