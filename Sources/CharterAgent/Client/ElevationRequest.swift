public import CharterAgentWire

/// A user's request to run a program as administrator or for an administrator session, for
/// `POST /v1/agent/requests` (docs/agent-protocol.md, "Requests"): the wire type ``RequestSubmission`` that the
/// service decodes too, under the name this library has always used.
public typealias ElevationRequest = RequestSubmission

extension RequestSubmission {
    /// What the user asks for.
    public typealias Kind = RequestKind
    /// Where a request stands.
    public typealias Status = RequestAnswer.Status
    /// A request and its decision, as the service answers a submission or a read.
    public typealias Answer = RequestAnswer
}
