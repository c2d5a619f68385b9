/// What resolving named scopes needs of a tenant's synced directory: its groups with their names and SIDs,
/// its OUs with their distinguished names, and its domains' root DNs.
///
/// The store loads only the groups some scope could name, and every OU (docs/baselines.md, "Cost").
package struct ScopeDirectory: Hashable, Sendable {
    /// A group as a named scope can find it.
    package struct Group: Hashable, Sendable {
        package var guid: ObjectGUID
        package var accountName: String?
        /// The `cn`.
        package var name: String
        package var sid: String?

        package init(guid: ObjectGUID, accountName: String?, name: String, sid: String?) {
            self.guid = guid
            self.accountName = accountName
            self.name = name
            self.sid = sid
        }
    }

    /// An OU and its distinguished name.
    package struct OrganizationalUnit: Hashable, Sendable {
        package var guid: ObjectGUID
        package var dn: String

        package init(guid: ObjectGUID, dn: String) {
            self.guid = guid
            self.dn = dn
        }
    }

    package var groups: [Group]
    package var organizationalUnits: [OrganizationalUnit]
    /// The root DN of every domain of the tenant, such as `DC=example,DC=test`, or any DN inside it (a
    /// connection's base DN): only its trailing `DC=` components count.
    package var domains: [String]

    package init(groups: [Group] = [], organizationalUnits: [OrganizationalUnit] = [], domains: [String] = []) {
        self.groups = groups
        self.organizationalUnits = organizationalUnits
        self.domains = domains
    }

    /// Where one named scope landed in this directory.
    package struct Resolution: Hashable, Sendable {
        /// The groups and OUs found; empty when nothing resolved (the subsetting then matches nobody).
        package var scope: Subsetting.Scope
        /// Entries that found nothing, as written, in document order (groups first).
        package var unresolvedGroups: [NamedScope.GroupReference]
        package var unresolvedOrganizationalUnits: [NamedScope.OUPath]

        /// Whether nothing at all resolved.
        package var matchesNobody: Bool { scope.groups.isEmpty && scope.organizationalUnits.isEmpty }
    }

    /// Indexes the directory once, to resolve many scopes.
    package func resolver() -> Resolver { Resolver(self) }

    /// Looks named scope entries up in one directory.
    package struct Resolver: Sendable {
        private var byName: [String: [ObjectGUID]] = [:]
        private var bySID: [String: [ObjectGUID]] = [:]
        private var byRelativeID: [UInt32: [ObjectGUID]] = [:]
        private var ousByPath: [String: [ObjectGUID]] = [:]

        init(_ directory: ScopeDirectory) {
            for group in directory.groups {
                var names = Set([group.name.lowercased()])
                if let accountName = group.accountName { names.insert(accountName.lowercased()) }
                for name in names { byName[name, default: []].append(group.guid) }
                if let sid = group.sid {
                    let parts = sid.uppercased().split(separator: "-")
                    bySID["S-" + parts.dropFirst().joined(separator: "-"), default: []].append(group.guid)
                    // A domain SID is S-1-5-21 and three sub-authorities; its accounts add the relative id.
                    if parts.count == 8, parts[1] == "1", parts[2] == "5", parts[3] == "21", let rid = UInt32(parts[7]) {
                        byRelativeID[rid, default: []].append(group.guid)
                    }
                }
            }
            // A connection's base DN may lie below the domain root; the domain is its trailing DC= part.
            let domains = Set(
                directory.domains.map { dn in
                    DistinguishedNameText.components(of: dn).reversed().prefix(while: { $0.hasPrefix("dc=") }).reversed()
                        .joined(separator: ",")
                }
            )
            .filter { !$0.isEmpty }
            for ou in directory.organizationalUnits {
                let dn = DistinguishedNameText.normalized(ou.dn)
                for domain in domains where dn.count > domain.count && dn.hasSuffix("," + domain) {
                    ousByPath[String(dn.dropLast(domain.count + 1)), default: []].append(ou.guid)
                }
            }
        }

        /// The groups one entry names.
        package func groups(_ reference: NamedScope.GroupReference) -> [ObjectGUID] {
            switch reference.kind {
            case .name(let name): byName[name] ?? []
            case .sid(let sid): bySID[sid] ?? []
            case .relativeID(let rid): byRelativeID[rid] ?? []
            }
        }

        /// The OUs one path names (one per domain that has it).
        package func organizationalUnits(_ path: NamedScope.OUPath) -> [ObjectGUID] {
            ousByPath[path.normalized] ?? []
        }

        /// Resolves a whole scope, keeping what did not resolve.
        package func resolve(_ scope: NamedScope) -> Resolution {
            var result = Resolution(scope: Subsetting.Scope(), unresolvedGroups: [], unresolvedOrganizationalUnits: [])
            for reference in scope.groups {
                let found = groups(reference)
                if found.isEmpty { result.unresolvedGroups.append(reference) }
                result.scope.groups.formUnion(found)
            }
            for path in scope.organizationalUnits {
                let found = organizationalUnits(path)
                if found.isEmpty { result.unresolvedOrganizationalUnits.append(path) }
                result.scope.organizationalUnits.formUnion(found)
            }
            return result
        }
    }
}
