public import CharterBundle

/// The answer to a long poll of `GET /v1/agent/events` with `Accept: application/json`.
public struct EventPoll: Sendable, Hashable, Decodable {
    /// One event of a poll.
    public struct Event: Sendable, Hashable, Decodable {
        /// The event id.
        public var id: String
        /// The event type.
        public var event: String
        /// The event's data.
        public var data: JSONValue

        /// The event as a protocol hint.
        public var agentEvent: AgentEvent {
            AgentEvent(type: event, data: data)
        }
    }

    /// The events after the `last_event_id` sent, oldest first (empty when `wait` ran out).
    public var events: [Event]
    /// What to send as `last_event_id` next time.
    public var lastEventID: String

    private enum CodingKeys: String, CodingKey {
        case events
        case lastEventID = "last_event_id"
    }
}
