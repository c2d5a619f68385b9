public import Foundation

/// What a connector last found of one domain controller.
public struct DomainControllerStatus: Sendable, Hashable, Codable {
    /// The LDAP URL from the connector's configuration (at most 2000 characters).
    public var url: String
    public var reachable: Bool
    public var checkedAt: Date
    /// Why it was not reachable (at most 500 characters).
    public var error: String?

    public init(url: String, reachable: Bool, checkedAt: Date, error: String? = nil) {
        self.url = url
        self.reachable = reachable
        self.checkedAt = checkedAt
        self.error = error
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case url
        case reachable
        case checkedAt = "checked_at"
        case error
    }

    /// Decodes the value, refusing unknown members.
    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let container = try decoder.container(keyedBy: CodingKeys.self)
        url = try container.decode(String.self, forKey: .url)
        reachable = try container.decode(Bool.self, forKey: .reachable)
        checkedAt = try container.decode(Date.self, forKey: .checkedAt)
        error = try container.decodeIfPresent(String.self, forKey: .error)
    }
}

/// The body of `POST /v1/connector/heartbeat`.
public struct ConnectorHeartbeat: Sendable, Hashable, Codable {
    public var version: String
    public var hostname: String
    /// At most 10.
    public var domainControllers: [DomainControllerStatus]

    public init(version: String, hostname: String, domainControllers: [DomainControllerStatus]) {
        self.version = version
        self.hostname = hostname
        self.domainControllers = domainControllers
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case version
        case hostname
        case domainControllers = "domain_controllers"
    }

    /// Decodes the body, refusing unknown members.
    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let container = try decoder.container(keyedBy: CodingKeys.self)
        version = try container.decode(String.self, forKey: .version)
        hostname = try container.decode(String.self, forKey: .hostname)
        domainControllers = try container.decode([DomainControllerStatus].self, forKey: .domainControllers)
    }
}

/// A directory connection a connector serves, as a heartbeat's answer names it.
public struct ConnectorAssignment: Sendable, Hashable, Codable {
    public var connectionID: String
    public var name: String
    /// Whether this connector holds the connection's lease (sync commands come to it).
    public var active: Bool
    public var leaseExpiresAt: Date?

    public init(connectionID: String, name: String, active: Bool, leaseExpiresAt: Date?) {
        self.connectionID = connectionID
        self.name = name
        self.active = active
        self.leaseExpiresAt = leaseExpiresAt
    }

    enum CodingKeys: String, CodingKey {
        case connectionID = "connection_id"
        case name
        case active
        case leaseExpiresAt = "lease_expires_at"
    }
}

/// The answer to `POST /v1/connector/heartbeat`.
public struct ConnectorHeartbeatAnswer: Sendable, Hashable, Codable {
    public var connections: [ConnectorAssignment]
    public var heartbeatSeconds: Int
    public var `protocol`: ConnectorProtocolRange

    public init(connections: [ConnectorAssignment], heartbeatSeconds: Int, protocol: ConnectorProtocolRange) {
        self.connections = connections
        self.heartbeatSeconds = heartbeatSeconds
        self.protocol = `protocol`
    }

    enum CodingKeys: String, CodingKey {
        case connections
        case heartbeatSeconds = "heartbeat_seconds"
        case `protocol`
    }
}

/// Where the stored directory of a connection stands: an incremental read continues from here.
public struct ConnectorWatermark: Sendable, Hashable, Codable {
    /// The DN of the NTDS Settings object of the DC the watermark belongs to.
    public var dcServiceName: String
    public var invocationID: UUID
    public var usn: Int64

    public init(dcServiceName: String, invocationID: UUID, usn: Int64) {
        self.dcServiceName = dcServiceName
        self.invocationID = invocationID
        self.usn = usn
    }

    enum CodingKeys: String, CodingKey {
        case dcServiceName = "dc_service_name"
        case invocationID = "invocation_id"
        case usn
    }
}

/// A run assigned to a connector, from `GET /v1/connector/work`.
public struct ConnectorRunAssignment: Sendable, Hashable, Codable {
    public enum Kind: String, Sendable, Hashable, Codable {
        case full
        case incremental
    }

    public var runID: String
    public var connectionID: String
    public var kind: Kind
    /// Present with `incremental`.
    public var watermark: ConnectorWatermark?
    public var pageSize: Int
    public var maximumObjects: Int
    public var deadlineAt: Date
    /// Pages the service holds already: a resumed upload continues after them.
    public var pagesReceived: Int

    public init(
        runID: String, connectionID: String, kind: Kind, watermark: ConnectorWatermark?, pageSize: Int,
        maximumObjects: Int, deadlineAt: Date, pagesReceived: Int
    ) {
        self.runID = runID
        self.connectionID = connectionID
        self.kind = kind
        self.watermark = watermark
        self.pageSize = pageSize
        self.maximumObjects = maximumObjects
        self.deadlineAt = deadlineAt
        self.pagesReceived = pagesReceived
    }

    enum CodingKeys: String, CodingKey {
        case runID = "run_id"
        case connectionID = "connection_id"
        case kind
        case watermark
        case pageSize = "page_size"
        case maximumObjects = "maximum_objects"
        case deadlineAt = "deadline_at"
        case pagesReceived = "pages_received"
    }
}

/// The answer to `GET /v1/connector/work`.
public struct ConnectorWork: Sendable, Hashable, Codable {
    public var runs: [ConnectorRunAssignment]

    public init(runs: [ConnectorRunAssignment]) {
        self.runs = runs
    }
}
