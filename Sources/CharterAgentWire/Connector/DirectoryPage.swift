public import Foundation

/// One page of a connector's upload (`PUT /v1/connector/runs/{run}/pages/{page}`, docs/connector-protocol.md,
/// "Upload"): the objects the reader returned and the objectGUIDs of tombstones.
public struct DirectoryPage: Sendable, Hashable, Codable {
    public var objects: [DirectoryPageObject]
    public var deleted: [UUID]

    public init(objects: [DirectoryPageObject], deleted: [UUID]) {
        self.objects = objects
        self.deleted = deleted
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case objects
        case deleted
    }

    /// Decodes the page, refusing unknown members.
    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let container = try decoder.container(keyedBy: CodingKeys.self)
        objects = try container.decode([DirectoryPageObject].self, forKey: .objects)
        deleted = try container.decode([UUID].self, forKey: .deleted)
    }
}

/// One directory object of a page, in the wire form of the connector protocol.
public struct DirectoryPageObject: Sendable, Hashable, Codable {
    public var guid: UUID
    /// `domain`, `ou`, `group`, `user` or `computer`.
    public var kind: String
    public var dn: String
    public var parentGUID: UUID?
    public var name: String
    public var samAccountName: String?
    public var userPrincipalName: String?
    public var dnsHostName: String?
    public var displayName: String?
    /// The objectSid in its `S-1-…` form.
    public var sid: String?
    public var disabled: Bool
    public var primaryGroupID: Int64?
    public var groupType: Int64?
    public var usnChanged: Int64
    /// A group's direct members; `nil` for other objects.
    public var members: [DirectoryPageMember]?

    public init(
        guid: UUID, kind: String, dn: String, parentGUID: UUID?, name: String, samAccountName: String?,
        userPrincipalName: String?, dnsHostName: String?, displayName: String?, sid: String?, disabled: Bool,
        primaryGroupID: Int64?, groupType: Int64?, usnChanged: Int64, members: [DirectoryPageMember]?
    ) {
        self.guid = guid
        self.kind = kind
        self.dn = dn
        self.parentGUID = parentGUID
        self.name = name
        self.samAccountName = samAccountName
        self.userPrincipalName = userPrincipalName
        self.dnsHostName = dnsHostName
        self.displayName = displayName
        self.sid = sid
        self.disabled = disabled
        self.primaryGroupID = primaryGroupID
        self.groupType = groupType
        self.usnChanged = usnChanged
        self.members = members
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case guid
        case kind
        case dn
        case parentGUID = "parent_guid"
        case name
        case samAccountName = "sam_account_name"
        case userPrincipalName = "user_principal_name"
        case dnsHostName = "dns_host_name"
        case displayName = "display_name"
        case sid
        case disabled
        case primaryGroupID = "primary_group_id"
        case groupType = "group_type"
        case usnChanged = "usn_changed"
        case members
    }

    /// Decodes the object, refusing unknown members.
    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let container = try decoder.container(keyedBy: CodingKeys.self)
        guid = try container.decode(UUID.self, forKey: .guid)
        kind = try container.decode(String.self, forKey: .kind)
        dn = try container.decode(String.self, forKey: .dn)
        parentGUID = try container.decodeIfPresent(UUID.self, forKey: .parentGUID)
        name = try container.decode(String.self, forKey: .name)
        samAccountName = try container.decodeIfPresent(String.self, forKey: .samAccountName)
        userPrincipalName = try container.decodeIfPresent(String.self, forKey: .userPrincipalName)
        dnsHostName = try container.decodeIfPresent(String.self, forKey: .dnsHostName)
        displayName = try container.decodeIfPresent(String.self, forKey: .displayName)
        sid = try container.decodeIfPresent(String.self, forKey: .sid)
        disabled = try container.decode(Bool.self, forKey: .disabled)
        primaryGroupID = try container.decodeIfPresent(Int64.self, forKey: .primaryGroupID)
        groupType = try container.decodeIfPresent(Int64.self, forKey: .groupType)
        usnChanged = try container.decode(Int64.self, forKey: .usnChanged)
        members = try container.decodeIfPresent([DirectoryPageMember].self, forKey: .members)
    }

    /// Encodes every member, `null` included, as the protocol shows them.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(guid, forKey: .guid)
        try container.encode(kind, forKey: .kind)
        try container.encode(dn, forKey: .dn)
        try container.encode(parentGUID, forKey: .parentGUID)
        try container.encode(name, forKey: .name)
        try container.encode(samAccountName, forKey: .samAccountName)
        try container.encode(userPrincipalName, forKey: .userPrincipalName)
        try container.encode(dnsHostName, forKey: .dnsHostName)
        try container.encode(displayName, forKey: .displayName)
        try container.encode(sid, forKey: .sid)
        try container.encode(disabled, forKey: .disabled)
        try container.encode(primaryGroupID, forKey: .primaryGroupID)
        try container.encode(groupType, forKey: .groupType)
        try container.encode(usnChanged, forKey: .usnChanged)
        try container.encode(members, forKey: .members)
    }
}

/// One direct `member` value of a group.
public struct DirectoryPageMember: Sendable, Hashable, Codable {
    /// `nil` when the DC named the member by DN only.
    public var guid: UUID?
    public var dn: String
    public var sid: String?

    public init(guid: UUID?, dn: String, sid: String?) {
        self.guid = guid
        self.dn = dn
        self.sid = sid
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case guid
        case dn
        case sid
    }

    /// Decodes the member, refusing unknown members.
    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let container = try decoder.container(keyedBy: CodingKeys.self)
        guid = try container.decodeIfPresent(UUID.self, forKey: .guid)
        dn = try container.decode(String.self, forKey: .dn)
        sid = try container.decodeIfPresent(String.self, forKey: .sid)
    }
}

/// The service's receipt of a page.
public struct DirectoryPageReceipt: Sendable, Hashable, Codable {
    public var page: Int
    public var pagesReceived: Int

    public init(page: Int, pagesReceived: Int) {
        self.page = page
        self.pagesReceived = pagesReceived
    }

    enum CodingKeys: String, CodingKey {
        case page
        case pagesReceived = "pages_received"
    }
}

/// The DC a connector read from, as `complete` reports it.
public struct ConnectorDomainController: Sendable, Hashable, Codable {
    public var serviceName: String
    public var invocationID: UUID
    public var highestCommittedUSN: Int64
    public var defaultNamingContext: String
    public var dnsHostName: String?
    public var domainSID: String?

    public init(
        serviceName: String, invocationID: UUID, highestCommittedUSN: Int64, defaultNamingContext: String,
        dnsHostName: String?, domainSID: String?
    ) {
        self.serviceName = serviceName
        self.invocationID = invocationID
        self.highestCommittedUSN = highestCommittedUSN
        self.defaultNamingContext = defaultNamingContext
        self.dnsHostName = dnsHostName
        self.domainSID = domainSID
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case serviceName = "service_name"
        case invocationID = "invocation_id"
        case highestCommittedUSN = "highest_committed_usn"
        case defaultNamingContext = "default_naming_context"
        case dnsHostName = "dns_host_name"
        case domainSID = "domain_sid"
    }

    /// Decodes the value, refusing unknown members.
    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let container = try decoder.container(keyedBy: CodingKeys.self)
        serviceName = try container.decode(String.self, forKey: .serviceName)
        invocationID = try container.decode(UUID.self, forKey: .invocationID)
        highestCommittedUSN = try container.decode(Int64.self, forKey: .highestCommittedUSN)
        defaultNamingContext = try container.decode(String.self, forKey: .defaultNamingContext)
        dnsHostName = try container.decodeIfPresent(String.self, forKey: .dnsHostName)
        domainSID = try container.decodeIfPresent(String.self, forKey: .domainSID)
    }
}

/// The body of `POST /v1/connector/runs/{run}/complete`.
public struct ConnectorRunCompletion: Sendable, Hashable, Codable {
    /// How many pages were uploaded (numbered 1 through this).
    public var pages: Int
    /// What was read: `incremental` only when it continued the watermark the assignment carried.
    public var kind: ConnectorRunAssignment.Kind
    public var objectsRead: Int
    public var tombstonesRead: Int
    public var domainController: ConnectorDomainController

    public init(
        pages: Int, kind: ConnectorRunAssignment.Kind, objectsRead: Int, tombstonesRead: Int,
        domainController: ConnectorDomainController
    ) {
        self.pages = pages
        self.kind = kind
        self.objectsRead = objectsRead
        self.tombstonesRead = tombstonesRead
        self.domainController = domainController
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case pages
        case kind
        case objectsRead = "objects_read"
        case tombstonesRead = "tombstones_read"
        case domainController = "domain_controller"
    }

    /// Decodes the body, refusing unknown members.
    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let container = try decoder.container(keyedBy: CodingKeys.self)
        pages = try container.decode(Int.self, forKey: .pages)
        kind = try container.decode(ConnectorRunAssignment.Kind.self, forKey: .kind)
        objectsRead = try container.decode(Int.self, forKey: .objectsRead)
        tombstonesRead = try container.decode(Int.self, forKey: .tombstonesRead)
        domainController = try container.decode(ConnectorDomainController.self, forKey: .domainController)
    }
}

/// The body of `POST /v1/connector/runs/{run}/fail`.
public struct ConnectorRunFailure: Sendable, Hashable, Codable {
    /// What went wrong at the site (1–1000 characters), such as an LDAP error.
    public var error: String

    public init(error: String) {
        self.error = error
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case error
    }

    /// Decodes the body, refusing unknown members.
    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let container = try decoder.container(keyedBy: CodingKeys.self)
        error = try container.decode(String.self, forKey: .error)
    }
}

/// The answer to `GET /v1/connector/runs/{run}`, `complete` and `fail`.
public struct ConnectorRunStatus: Sendable, Hashable, Codable {
    public var runID: String
    /// `running`, `applying`, `succeeded`, `failed` or `needs_confirmation`.
    public var status: String
    public var pagesReceived: Int

    public init(runID: String, status: String, pagesReceived: Int) {
        self.runID = runID
        self.status = status
        self.pagesReceived = pagesReceived
    }

    enum CodingKeys: String, CodingKey {
        case runID = "run_id"
        case status
        case pagesReceived = "pages_received"
    }
}
