public import CharterBundle
internal import Foundation

/// A hint of the agent event stream or of a long poll, decoded from its type and data.
///
/// Hints carry no policy; they tell the agent when to fetch (docs/agent-protocol.md, “Events”).
public enum AgentEvent: Sendable, Hashable {
    /// The stream is live; its id is the stream position now.
    case ready(deviceID: String, heartbeatSeconds: Int)
    /// A newer bundle may exist; `reason` is informational (`policy`, `directory`, `device`, `signing_keys`).
    case bundle(reason: String)
    /// A request of this device was decided (`approved`, `denied`, `expired`).
    case decision(requestID: String, status: String)
    /// An event this agent does not know, or a known one whose data does not decode; agents ignore it.
    case other(type: String)

    /// The heartbeat interval the protocol uses when a `ready` event does not say.
    public static let defaultHeartbeatSeconds = 15

    /// Decodes a hint from its type and JSON data.
    ///
    /// - Parameters:
    ///   - type: The event type.
    ///   - data: The event's data.
    public init(type: String, data: JSONValue) {
        switch type {
        case "ready":
            guard let deviceID = data["device_id"]?.stringValue else {
                self = .other(type: type)
                return
            }
            let heartbeat = data["heartbeat_seconds"]?.integerValue.map { Int($0) }
            self = .ready(deviceID: deviceID, heartbeatSeconds: heartbeat ?? Self.defaultHeartbeatSeconds)
        case "bundle":
            self = .bundle(reason: data["reason"]?.stringValue ?? "")
        case "decision":
            guard let requestID = data["request_id"]?.stringValue, let status = data["status"]?.stringValue else {
                self = .other(type: type)
                return
            }
            self = .decision(requestID: requestID, status: status)
        default:
            self = .other(type: type)
        }
    }
}

extension ServerSentEvent {
    /// The event as a protocol hint; data that is not a JSON object decodes as `null`.
    public var agentEvent: AgentEvent {
        let json = (try? JSONDecoder().decode(JSONValue.self, from: Data(data.utf8))) ?? .null
        return AgentEvent(type: type, data: json)
    }
}
