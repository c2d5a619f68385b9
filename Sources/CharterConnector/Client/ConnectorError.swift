import CharterAgent

/// A failure of the connector that is not one HTTP answer (those are ``AgentError``s, as the agent's).
package enum ConnectorError: Error, Hashable, Sendable, CustomStringConvertible {
    /// `state_dir/connector.json` cannot be read or written.
    case state(String)
    /// There is no identity and no enrollment token to get one with.
    case notEnrolled(stateDirectory: String)
    /// The service no longer speaks this connector's protocol version (`426` `connector-update-required`).
    case updateRequired(detail: String)

    package var description: String {
        switch self {
        case .state(let reason):
            "connector state: \(reason)"
        case .notEnrolled(let directory):
            "not enrolled: \(directory)/\(ConnectorState.fileName) does not exist; set enrollment_token (or "
                + "enrollment_token_file) to a connector enrollment token, or run `charter connector enroll --token chte_…`"
        case .updateRequired(let detail):
            "the service needs a newer connector (this one speaks protocol \(ConnectorProtocolVersion.current)): \(detail)"
        }
    }

    /// The ``updateRequired(detail:)`` an answer stands for, when it is a `426`.
    static func updateRequired(from error: AgentError) -> ConnectorError? {
        guard error.statusCode == 426 else { return nil }
        return .updateRequired(detail: error.problem?.detail ?? error.problem?.title ?? "HTTP 426")
    }
}

/// The protocol version and the connector's own version.
package enum ConnectorProtocolVersion {
    /// The protocol version this build speaks (docs/connector-protocol.md).
    package static let current = ConnectorProtocol.version
    /// The version the connector reports in enrollment and heartbeats.
    package static let connectorVersion = "1.0.0"
}
