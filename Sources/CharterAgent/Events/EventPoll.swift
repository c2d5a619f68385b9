public import CharterAgentWire

extension CharterAgentWire.EventPoll.Event {
    /// The event as a protocol hint.
    public var agentEvent: AgentEvent {
        AgentEvent(type: event, data: data)
    }
}
