/// One event dispatched from a `text/event-stream`, as the WHATWG HTML standard defines it.
///
/// `lastEventID` follows the standard's `lastEventId`: it is the stream's last event id when the
/// event was dispatched, so an event without its own `id` field carries the id of an earlier one.
/// Charter gives every event an id.
public struct ServerSentEvent: Sendable, Hashable {
    /// The event type: the `event` field, or `message` when the event has none.
    public var type: String
    /// The `data` fields, joined with line feeds.
    public var data: String
    /// The stream's last event id at dispatch (empty when none was ever set).
    public var lastEventID: String

    /// The type of an event without an `event` field.
    public static let defaultType = "message"

    /// Creates an event.
    ///
    /// - Parameters:
    ///   - type: The event type.
    ///   - data: The data.
    ///   - lastEventID: The last event id at dispatch.
    public init(type: String = defaultType, data: String, lastEventID: String = "") {
        self.type = type
        self.data = data
        self.lastEventID = lastEventID
    }

    /// The id as a stream position, when it is a decimal number as Charter's ids are.
    public var position: UInt64? {
        UInt64(lastEventID)
    }
}
