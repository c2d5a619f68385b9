package import CharterCore
package import Foundation

/// One synced directory object as stored: an OU (or the domain root), group, user or computer.
///
/// Identity is ``guid`` (objectGUID); ``dn`` and ``parentGUID`` change on rename and move.
package struct DirectoryEntry: Sendable, Hashable {
    package var guid: ObjectGUID
    /// Its raw value is the `kind` column.
    package var kind: DirectoryObjectKind
    package var dn: String
    package var parentGUID: ObjectGUID?
    package var name: String
    package var samAccountName: String?
    package var userPrincipalName: String?
    package var dnsHostName: String?
    package var displayName: String?
    /// The objectSid in its `S-1-5-21-…` form.
    package var sid: String?
    package var isDisabled: Bool
    package var primaryGroupID: Int64?
    package var groupType: Int64?
    package var usnChanged: Int64
    /// Direct `member` values; `nil` for objects that are not groups (only set on entries being staged).
    package var members: [DirectoryMember]?

    package init(
        guid: ObjectGUID, kind: DirectoryObjectKind, dn: String, parentGUID: ObjectGUID?, name: String, samAccountName: String? = nil,
        userPrincipalName: String? = nil, dnsHostName: String? = nil, displayName: String? = nil, sid: String? = nil,
        isDisabled: Bool = false, primaryGroupID: Int64? = nil, groupType: Int64? = nil, usnChanged: Int64 = 0,
        members: [DirectoryMember]? = nil
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
        self.isDisabled = isDisabled
        self.primaryGroupID = primaryGroupID
        self.groupType = groupType
        self.usnChanged = usnChanged
        self.members = members
    }
}

/// One direct `member` value of a group; ``guid`` is `nil` when the server named the member by DN only.
package struct DirectoryMember: Sendable, Hashable {
    package var guid: ObjectGUID?
    package var dn: String
    package var sid: String?

    package init(guid: ObjectGUID?, dn: String, sid: String?) {
        self.guid = guid
        self.dn = dn
        self.sid = sid
    }

    /// The key of the edge: the member's GUID, or its DN when it has none.
    var reference: String { guid.map(\.description) ?? "dn:\(dn)" }
}

/// The DC a sync read from and where its update sequence stood: stored with the data it describes.
package struct StoredWatermark: Sendable, Hashable {
    package var serviceName: String
    package var invocationID: UUID
    package var usn: Int64
    /// The domain SID, which primary-group membership is resolved against.
    package var domainSID: String?
    package var lastFullSyncAt: Date
    package var syncedAt: Date

    package init(
        serviceName: String, invocationID: UUID, usn: Int64, domainSID: String?, lastFullSyncAt: Date, syncedAt: Date
    ) {
        self.serviceName = serviceName
        self.invocationID = invocationID
        self.usn = usn
        self.domainSID = domainSID
        self.lastFullSyncAt = lastFullSyncAt
        self.syncedAt = syncedAt
    }
}
