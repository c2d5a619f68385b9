package import CharterCore
package import Foundation

/// One Active Directory object Charter syncs: the domain root, an OU, a group, a user or a computer.
///
/// Identity is `guid` (the objectGUID); `dn` and `parentDN` change on rename and move.
package struct DirectoryObject: Sendable, Hashable {
    package var guid: UUID
    /// What the object is, from its `objectClass`.
    package var kind: DirectoryObjectKind
    /// The DN as the server returned it.
    package var dn: String
    /// The DN of the container the object lies in (its OU placement); `nil` for a root.
    package var parentDN: String?
    /// The container's objectGUID (AD's constructed `parentGUID`). Prefer it to `parentDN` for
    /// placement: renaming or moving an OU changes its children's DNs without changing their
    /// `uSNChanged`, so an incremental read does not return the children again.
    package var parentGUID: UUID?
    /// The RDN value (`name`, equal to `cn` or `ou`).
    package var name: String
    package var samAccountName: String?
    package var userPrincipalName: String?
    package var dnsHostName: String?
    package var displayName: String?
    package var sid: SecurityIdentifier?
    /// `userAccountControl` has ACCOUNTDISABLE (0x2) set. Always `false` for groups, OUs and the domain.
    package var isDisabled: Bool
    /// The RID of the user's or computer's primary group (513 Domain Users, 515 Domain Computers);
    /// the primary group's SID is the domain SID with this RID appended.
    package var primaryGroupID: UInt32?
    /// The group's `groupType` flags (0x80000000 security, 0x2 global, 0x4 domain local, 0x8 universal).
    package var groupType: Int32?
    /// A group's direct members, every value (ranged retrieval followed), with their GUID and SID
    /// where the server knows them. `nil` for objects that are not groups.
    package var members: [ExtendedDN]?
    /// The object's `uSNChanged` on the DC it was read from.
    package var usnChanged: Int64

    package init(
        guid: UUID, kind: DirectoryObjectKind, dn: String, parentDN: String?, parentGUID: UUID? = nil, name: String,
        samAccountName: String? = nil,
        userPrincipalName: String? = nil, dnsHostName: String? = nil, displayName: String? = nil,
        sid: SecurityIdentifier? = nil, isDisabled: Bool = false, primaryGroupID: UInt32? = nil,
        groupType: Int32? = nil,
        members: [ExtendedDN]? = nil, usnChanged: Int64 = 0
    ) {
        self.guid = guid
        self.kind = kind
        self.dn = dn
        self.parentDN = parentDN
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
        self.members = members
        self.usnChanged = usnChanged
    }
}

extension DirectoryObject {
    /// The SID of the user's or computer's primary group: the domain SID with `primaryGroupID` appended.
    ///
    /// The primary group (Domain Users, Domain Computers) lists the object in neither `member` nor
    /// `memberOf`; a membership closure adds this edge by matching the SID against the groups read.
    package func primaryGroupSID(domainSID: SecurityIdentifier) -> SecurityIdentifier? {
        primaryGroupID.map { domainSID.appending(rid: $0) }
    }
}
