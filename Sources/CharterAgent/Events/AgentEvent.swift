public import CharterBundle
internal import CharterJSON

/// A hint of the agent event stream or of a long poll, decoded from its type and data.
///
/// Hints carry no policy; they tell the agent when to fetch (docs/agent-protocol.md, “Events”). A
/// pushed bundle (`current_bundle`) carries the signed bundle itself, to verify as a fetched one.
public enum AgentEvent: Sendable, Hashable {
    /// The stream is live; its id is the stream position now. `bundlePushSeconds` is set when the
    /// service pushes the bundle after each `bundle` hint: how long to wait for it before fetching.
    case ready(deviceID: String, heartbeatSeconds: Int, bundlePushSeconds: Int?)
    /// A newer bundle may exist; `reason` is informational (`policy`, `directory`, `device`, `signing_keys`).
    case bundle(reason: String)
    /// The device's current bundle, pushed after `bundle` hints: it answers every hint up to `position`.
    case currentBundle(PushedBundle)
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
            let push = data["bundle_push_seconds"]?.integerValue.map { Int($0) }
            self = .ready(
                deviceID: deviceID, heartbeatSeconds: heartbeat ?? Self.defaultHeartbeatSeconds,
                bundlePushSeconds: push.flatMap { $0 > 0 ? $0 : nil }
            )
        case "bundle":
            self = .bundle(reason: data["reason"]?.stringValue ?? "")
        case "current_bundle":
            guard let position = data["position"]?.integerValue, let version = data["version"]?.integerValue,
                let etag = data["etag"]?.stringValue, let compact = data["bundle"]?.stringValue
            else {
                self = .other(type: type)
                return
            }
            self = .currentBundle(PushedBundle(position: position, version: version, etag: etag, compact: compact))
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

/// A bundle the service pushed on the event stream (`current_bundle`): as a `200` of
/// `GET /v1/agent/bundle` would carry it, and the feed position it answers.
public struct PushedBundle: Sendable, Hashable {
    /// Every `bundle` hint with an id up to this one is answered by this bundle.
    public var position: Int64
    /// The bundle's `ver` as the service states it (the verified claim is what counts).
    public var version: Int64
    /// The ETag to send as `If-None-Match` from now on.
    public var etag: String
    /// The compact JWE.
    public var compact: String

    public init(position: Int64, version: Int64, etag: String, compact: String) {
        self.position = position
        self.version = version
        self.etag = etag
        self.compact = compact
    }
}

extension ServerSentEvent {
    /// The event as a protocol hint; data that is not a JSON object decodes as `null`.
    public var agentEvent: AgentEvent {
        let json = (try? JSONParser.parse(data.utf8)) ?? .null
        return AgentEvent(type: type, data: json)
    }
}
