/// An incremental parser of `text/event-stream` bytes, following the WHATWG HTML standard
/// (“Server-sent events”, §9.2.6 “Interpreting an event stream”).
///
/// Feed it the body in chunks of any size; a chunk may end anywhere, including between the CR
/// and LF of a CRLF or inside a UTF-8 sequence. It implements every rule of the standard:
/// - one leading U+FEFF BOM is skipped;
/// - lines end with CRLF, LF or CR;
/// - a line starting with `:` is a comment and is ignored;
/// - `field: value` loses one space after the colon; a line without a colon is a field with an empty value;
/// - `data` lines are joined with LF; `event` sets the type (`message` by default);
/// - `id` sets the last event id unless its value contains U+0000; it persists across events;
/// - `retry` sets the reconnection time when its value is only ASCII digits;
/// - unknown fields are ignored; field names are case-sensitive;
/// - an empty line dispatches the event, unless its data is empty;
/// - text that is not UTF-8 decodes to U+FFFD;
/// - an event not ended by an empty line when the stream ends is never dispatched.
public struct ServerSentEventParser: Sendable {
    /// The last event id of the stream, to send as `Last-Event-ID` when reconnecting.
    ///
    /// Like the standard's “last event ID string”, it is updated by every empty line from the
    /// `id` fields seen so far, even when no event is dispatched.
    public private(set) var lastEventID: String
    /// The reconnection time the stream asked for with `retry`, in milliseconds, if any.
    public private(set) var reconnectionTime: Duration?

    private var line: [UInt8] = []
    private var skipsLeadingLF = false
    private var bomState = BOMState.checking(matched: 0)
    private var data: [UInt8] = []
    private var hasData = false
    private var eventType = ""
    private var lastEventIDBuffer: String

    private enum BOMState: Sendable {
        case checking(matched: Int)
        case done
    }

    private static let byteOrderMark: [UInt8] = [0xEF, 0xBB, 0xBF]
    private static let lineFeed = UInt8(ascii: "\n")
    private static let carriageReturn = UInt8(ascii: "\r")
    private static let colon = UInt8(ascii: ":")
    private static let space = UInt8(ascii: " ")

    /// Creates a parser at the start of a stream.
    ///
    /// - Parameter lastEventID: The id sent as `Last-Event-ID`, which stays the last event id
    ///   until the stream sets another (as a browser's `EventSource` keeps it across reconnects).
    public init(lastEventID: String = "") {
        self.lastEventID = lastEventID
        self.lastEventIDBuffer = lastEventID
    }

    /// Parses the next bytes of the stream.
    ///
    /// - Parameter bytes: The next chunk, of any length.
    /// - Returns: The events completed by this chunk, in order.
    public mutating func parse(_ bytes: some Sequence<UInt8>) -> [ServerSentEvent] {
        var events: [ServerSentEvent] = []
        for byte in bytes {
            if case .checking(let matched) = bomState {
                if byte == Self.byteOrderMark[matched] {
                    bomState = matched + 1 == Self.byteOrderMark.count ? .done : .checking(matched: matched + 1)
                    continue
                }
                // Not a BOM after all: the bytes held back so far are text.
                bomState = .done
                for held in Self.byteOrderMark.prefix(matched) {
                    consume(held, into: &events)
                }
            }
            consume(byte, into: &events)
        }
        return events
    }

    private mutating func consume(_ byte: UInt8, into events: inout [ServerSentEvent]) {
        switch byte {
        case Self.lineFeed where skipsLeadingLF:
            skipsLeadingLF = false
        case Self.lineFeed, Self.carriageReturn:
            // A CR ends the line at once; an LF right after it (maybe in the next chunk) is the same line end.
            skipsLeadingLF = byte == Self.carriageReturn
            if let event = processLine() {
                events.append(event)
            }
            line.removeAll(keepingCapacity: true)
        default:
            skipsLeadingLF = false
            line.append(byte)
        }
    }

    private mutating func processLine() -> ServerSentEvent? {
        guard let first = line.first else {
            return dispatch()
        }
        guard first != Self.colon else {
            return nil
        }
        let field: ArraySlice<UInt8>
        var value: ArraySlice<UInt8>
        if let colonIndex = line.firstIndex(of: Self.colon) {
            field = line[..<colonIndex]
            value = line[(colonIndex + 1)...]
            if value.first == Self.space {
                value = value.dropFirst()
            }
        } else {
            field = line[...]
            value = []
        }
        process(field: field, value: value)
        return nil
    }

    private mutating func process(field: ArraySlice<UInt8>, value: ArraySlice<UInt8>) {
        switch String(decoding: field, as: UTF8.self) {
        case "event":
            eventType = String(decoding: value, as: UTF8.self)
        case "data":
            if hasData {
                data.append(Self.lineFeed)
            }
            data.append(contentsOf: value)
            hasData = true
        case "id":
            if !value.contains(0) {
                lastEventIDBuffer = String(decoding: value, as: UTF8.self)
            }
        case "retry":
            if !value.isEmpty, value.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }),
                let milliseconds = Int64(String(decoding: value, as: UTF8.self))
            {
                reconnectionTime = .milliseconds(milliseconds)
            }
        default:
            break
        }
    }

    private mutating func dispatch() -> ServerSentEvent? {
        lastEventID = lastEventIDBuffer
        defer {
            data.removeAll(keepingCapacity: true)
            hasData = false
            eventType = ""
        }
        guard hasData else {
            return nil
        }
        return ServerSentEvent(
            type: eventType.isEmpty ? ServerSentEvent.defaultType : eventType,
            data: String(decoding: data, as: UTF8.self),
            lastEventID: lastEventID
        )
    }
}
