import CharterCore
import CharterDirectory
import CharterStore

extension DirectoryEntry {
    /// The stored form of an object the reader returned.
    init(_ object: DirectoryObject) {
        self.init(
            guid: ObjectGUID(object.guid), kind: object.kind, dn: object.dn, parentGUID: object.parentGUID.map(ObjectGUID.init),
            name: object.name, samAccountName: object.samAccountName, userPrincipalName: object.userPrincipalName,
            dnsHostName: object.dnsHostName, displayName: object.displayName, sid: object.sid?.description,
            isDisabled: object.isDisabled, primaryGroupID: object.primaryGroupID.map(Int64.init),
            groupType: object.groupType.map(Int64.init), usnChanged: object.usnChanged,
            members: object.members?.map { member in
                DirectoryMember(guid: member.guid.map(ObjectGUID.init), dn: member.dn, sid: member.sid?.description)
            }
        )
    }
}
