public import CharterBundle

/// The answer to a long poll of `GET /v1/agent/events` with `Accept: application/json`.
public struct EventPoll: Sendable, Hashable, Codable {
    /// One event of a poll.
    public struct Event: Sendable, Hashable, Codable {
        /// The event id.
        public var id: String
        /// The event type.
        public var event: String
        /// The event's data: a JSON object.
        public var data: JSONValue

        /// Creates an event.
        ///
        /// - Parameters:
        ///   - id: The event id.
        ///   - event: The event type.
        ///   - data: The event's data.
        public init(id: String, event: String, data: JSONValue) {
            self.id = id
            self.event = event
            self.data = data
        }
    }

    /// The events after the `last_event_id` sent, oldest first (empty when `wait` ran out).
    public var events: [Event]
    /// What to send as `last_event_id` next time.
    public var lastEventID: String

    /// Creates a poll answer.
    ///
    /// - Parameters:
    ///   - events: The events.
    ///   - lastEventID: The id to send next time.
    public init(events: [Event], lastEventID: String) {
        self.events = events
        self.lastEventID = lastEventID
    }

    enum CodingKeys: String, CodingKey {
        case events
        case lastEventID = "last_event_id"
    }
}
