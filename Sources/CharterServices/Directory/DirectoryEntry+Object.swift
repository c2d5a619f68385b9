import CharterAgentWire
import CharterCore
import CharterDirectory
import CharterStore

// The two ways an object reaches the staging: read by the service (``DirectoryObject``, direct mode) or uploaded
// by a connector (``DirectoryPageObject``, docs/connector-protocol.md). Both map to the same stored form here,
// and docs/directory-sync.md lists the mapping.

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

    /// The stored form of an object a connector uploaded, checked against the rules of the page table.
    ///
    /// The SIDs are stored in the canonical form the reader produces (`S-1-…`, decimal, no leading zeros), so an
    /// upload and a direct read of the same object store the same text.
    ///
    /// - Parameter pointer: the JSON pointer of the object in its page, for the refusal (built only for one).
    /// - Throws: ``ConnectorRunError/invalid(_:field:)`` naming the first value that breaks a rule.
    init(_ object: DirectoryPageObject, at pointer: @autoclosure () -> String) throws(ConnectorRunError) {
        typealias Check = ConnectorPageRules
        guard let kind = DirectoryObjectKind(rawValue: object.kind) else {
            throw .invalid("kind must be domain, ou, group, user or computer.", field: "\(pointer())/kind")
        }
        guard object.usnChanged >= 0 else { throw .invalid("usn_changed must be at least 0.", field: "\(pointer())/usn_changed") }
        if let id = object.primaryGroupID, !(0...Int64(UInt32.max)).contains(id) {
            throw .invalid("primary_group_id must be from 0 to 4294967295.", field: "\(pointer())/primary_group_id")
        }
        if let type = object.groupType, !(Int64(Int32.min)...Int64(Int32.max)).contains(type) {
            throw .invalid("group_type must be a 32-bit signed integer.", field: "\(pointer())/group_type")
        }
        if object.members != nil, kind != .group {
            throw .invalid("Only a group has members; send null for other objects.", field: "\(pointer())/members")
        }
        var members: [DirectoryMember]?
        if let listed = object.members {
            var checked: [DirectoryMember] = []
            checked.reserveCapacity(listed.count)
            for (index, member) in listed.enumerated() {
                checked.append(
                    DirectoryMember(
                        guid: member.guid.map(ObjectGUID.init),
                        dn: try Check.text(member.dn, 1...2000, at: "\(pointer())/members/\(index)/dn"),
                        sid: try Check.sid(member.sid, at: "\(pointer())/members/\(index)/sid")
                    )
                )
            }
            members = checked
        }
        self.init(
            guid: ObjectGUID(object.guid), kind: kind, dn: try Check.text(object.dn, 1...2000, at: "\(pointer())/dn"),
            parentGUID: object.parentGUID.map(ObjectGUID.init),
            name: try Check.text(object.name, 1...256, at: "\(pointer())/name"),
            samAccountName: try Check.optional(object.samAccountName, at: "\(pointer())/sam_account_name"),
            userPrincipalName: try Check.optional(object.userPrincipalName, at: "\(pointer())/user_principal_name"),
            dnsHostName: try Check.optional(object.dnsHostName, at: "\(pointer())/dns_host_name"),
            displayName: try Check.optional(object.displayName, at: "\(pointer())/display_name"),
            sid: try Check.sid(object.sid, at: "\(pointer())/sid"), isDisabled: object.disabled,
            primaryGroupID: object.primaryGroupID, groupType: object.groupType, usnChanged: object.usnChanged,
            members: members
        )
    }
}

/// The string rules of an uploaded page (docs/connector-protocol.md, "Upload").
///
/// A field's pointer is built only for a refusal: a page has some 15,000 values to check.
enum ConnectorPageRules {
    /// A string of `length` characters without U+0000 (which no directory value holds and PostgreSQL refuses).
    static func text(
        _ value: String, _ length: ClosedRange<Int>, at field: @autoclosure () -> String
    ) throws(ConnectorRunError) -> String {
        // U+0000 is the only scalar with a zero byte in UTF-8; a character has at least one byte, so a string
        // whose bytes are within the upper bound is within it in characters too.
        let bytes = value.utf8.count
        let fits =
            bytes <= length.upperBound && length.lowerBound <= 1
            ? bytes >= length.lowerBound : length.contains(value.count)
        guard fits, !value.utf8.contains(0) else {
            throw .invalid(
                "Must have \(length.lowerBound) to \(length.upperBound) characters and no U+0000.", field: field()
            )
        }
        return value
    }

    /// An optional string of at most 1024 characters.
    static func optional(_ value: String?, at field: @autoclosure () -> String) throws(ConnectorRunError) -> String? {
        guard let value else { return nil }
        return try text(value, 0...1024, at: field())
    }

    /// A SID in its `S-1-…` form, returned in the reader's canonical form.
    static func sid(_ value: String?, at field: @autoclosure () -> String) throws(ConnectorRunError) -> String? {
        guard let value else { return nil }
        guard value.utf8.count <= 200, let sid = SecurityIdentifier(value) else {
            throw .invalid("A SID has the form S-1-5-21-…", field: field())
        }
        return sid.description
    }
}
