import CharterCore
import Foundation

extension DirectoryObject {
    /// The attributes `init(entry:members:)` reads, `member` aside.
    package static let attributes = [
        "objectGUID", "parentGUID", "objectClass", "objectSid", "name", "sAMAccountName", "userPrincipalName",
        "dNSHostName",
        "displayName", "userAccountControl", "primaryGroupID", "groupType", "uSNChanged", "objectCategory",
    ]

    /// The filter for every object kind Charter syncs: the domain root, OUs, groups, and the `user` class, which
    /// takes in computers (a subclass); contacts are not users.
    ///
    /// Users are the persons among them and computers the computers by `objectCategory`, which `init(entry:)`
    /// checks: the same objects as `(&(objectCategory=person)(objectClass=user))` and
    /// `(objectCategory=computer)` would select (managed service accounts, also of class `computer`, stay out),
    /// but Samba answers this filter with about a quarter less work.
    package static let filter =
        "(|(objectClass=domainDNS)(objectClass=organizationalUnit)(objectClass=group)(objectClass=user))"

    /// Maps a search entry to an object.
    ///
    /// - Parameters:
    ///   - entry: an entry read with `attributes` (and the extended DN control, whose prefix on the
    ///     entry DN is removed).
    ///   - members: the group's complete member list, when the entry is a group.
    /// - Returns: `nil` when the entry's `objectClass` is none of the synced kinds, or it is a user or computer
    ///   whose `objectCategory` is not Person or Computer (a managed service account).
    /// - Throws: `ActiveDirectoryError.malformedAttribute` when objectGUID is missing or not 16 bytes.
    package init?(entry: LDAPEntry, members: [ExtendedDN]? = nil) throws(ActiveDirectoryError) {
        let classes = Set(entry.strings("objectClass").map { $0.lowercased() })
        // `CN=Person,CN=Schema,…` (with the extended DN control `<GUID=…>;CN=Person,…`); a server that does not
        // return it is taken at the classes' word.
        let category = entry.string("objectCategory").map { ExtendedDN(parsing: $0).dn.lowercased() }
        let kind: DirectoryObjectKind
        if classes.contains("computer") {
            guard category?.hasPrefix("cn=computer,") ?? true else { return nil }
            kind = .computer
        } else if classes.contains("group") {
            kind = .group
        } else if classes.contains("organizationalunit") {
            kind = .organizationalUnit
        } else if classes.contains("user") {
            guard category?.hasPrefix("cn=person,") ?? true else { return nil }
            kind = .user
        } else if classes.contains("domaindns") {
            kind = .domain
        } else {
            return nil
        }
        let dn = ExtendedDN(parsing: entry.dn).dn
        guard let bytes = entry.value("objectGUID"), let guid = UUID(activeDirectoryBytes: bytes) else {
            throw ActiveDirectoryError.malformedAttribute(dn: dn, attribute: "objectGUID", reason: "not 16 bytes")
        }
        let parsed: DistinguishedName
        do {
            parsed = try DistinguishedName(dn)
        } catch {
            throw ActiveDirectoryError.malformedAttribute(dn: dn, attribute: "distinguishedName", reason: "\(error)")
        }
        let accountControl = entry.integer("userAccountControl") ?? 0
        self.init(
            guid: guid,
            kind: kind,
            dn: dn,
            parentDN: parsed.parent.flatMap { $0.rdns.isEmpty ? nil : $0.description },
            parentGUID: entry.value("parentGUID").flatMap { UUID(activeDirectoryBytes: $0) },
            name: entry.string("name") ?? parsed.rdns.first?.attributes.first?.value ?? "",
            samAccountName: entry.string("sAMAccountName"),
            userPrincipalName: entry.string("userPrincipalName"),
            dnsHostName: entry.string("dNSHostName"),
            displayName: entry.string("displayName"),
            sid: entry.value("objectSid").flatMap { SecurityIdentifier(bytes: $0) },
            isDisabled: (kind == .user || kind == .computer) && accountControl & 0x2 != 0,
            primaryGroupID: entry.integer("primaryGroupID").flatMap { UInt32(exactly: $0) },
            groupType: entry.integer("groupType").flatMap { Int32(truncatingIfNeeded: $0) },
            members: kind == .group ? (members ?? []) : nil,
            usnChanged: entry.integer("uSNChanged") ?? 0
        )
    }
}

/// Why a directory entry could not be mapped, or a directory could not be read as Active Directory.
package enum ActiveDirectoryError: Error, Hashable, Sendable, CustomStringConvertible {
    /// A required attribute is missing or malformed.
    case malformedAttribute(dn: String, attribute: String, reason: String)
    /// The rootDSE lacks what an AD DC publishes (`dsServiceName`, `highestCommittedUSN`, …).
    case notActiveDirectory(reason: String)

    package var description: String {
        switch self {
        case .malformedAttribute(let dn, let attribute, let reason):
            "attribute \(attribute) of \(dn) is malformed: \(reason)"
        case .notActiveDirectory(let reason):
            "the server does not look like an Active Directory domain controller: \(reason)"
        }
    }
}
