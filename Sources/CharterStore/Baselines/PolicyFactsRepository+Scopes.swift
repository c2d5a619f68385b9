package import CharterCore
import Foundation
import PostgresNIO

extension PolicyFactsRepository {
    /// What resolving `scopes` needs of the tenant's directory: the groups some entry could name (by
    /// `sAMAccountName` or `cn`, by SID, or by a domain SID ending in a relative id), every OU, and the domain of
    /// every domain root and connection.
    package func scopeDirectory(for scopes: [NamedScope], in tenant: TenantID) async throws -> ScopeDirectory {
        let lookup = GroupLookup(scopes)
        var directory = ScopeDirectory()
        if !lookup.isEmpty {
            // A domain account's SID is S-1-5-21 and three sub-authorities, then its relative id.
            let rows = try await tx.query(
                """
                SELECT guid, sam_account_name, name, sid FROM directory_objects
                WHERE tenant_id = \(tenant.rawValue) AND kind = 'group' AND (
                    lower(sam_account_name) = ANY(\(lookup.names)::text[])
                    OR lower(name) = ANY(\(lookup.names)::text[])
                    OR upper(sid) = ANY(\(lookup.sids)::text[])
                    OR (sid ~ '^S-1-5-21-[0-9]+-[0-9]+-[0-9]+-[0-9]{1,10}$'
                        AND substring(sid FROM '-([0-9]+)$')::bigint = ANY(\(lookup.relativeIDs)::bigint[])))
                """
            )
            for try await (guid, accountName, name, sid) in rows.decode((UUID, String?, String, String?).self) {
                directory.groups.append(
                    ScopeDirectory.Group(guid: ObjectGUID(guid), accountName: accountName, name: name, sid: sid)
                )
            }
        }
        if scopes.contains(where: { !$0.organizationalUnits.isEmpty }) {
            let rows = try await tx.query(
                """
                SELECT guid, kind, dn FROM directory_objects
                WHERE tenant_id = \(tenant.rawValue) AND kind IN ('ou', 'domain')
                """
            )
            for try await (guid, kind, dn) in rows.decode((UUID, String, String).self) {
                if kind == "domain" {
                    directory.domains.append(dn)
                } else {
                    directory.organizationalUnits.append(ScopeDirectory.OrganizationalUnit(guid: ObjectGUID(guid), dn: dn))
                }
            }
            let bases = try await tx.query(
                "SELECT base_dn FROM directory_connections WHERE tenant_id = \(tenant.rawValue)"
            )
            for try await base in bases.decode(String.self) { directory.domains.append(base) }
        }
        return directory
    }

    /// What the group entries of some scopes look for: lower-cased names, upper-cased SIDs, relative ids.
    struct GroupLookup {
        let names: [String]
        let sids: [String]
        let relativeIDs: [Int64]

        init(_ scopes: [NamedScope]) {
            var names: Set<String> = []
            var sids: Set<String> = []
            var relativeIDs: Set<Int64> = []
            for reference in scopes.flatMap(\.groups) {
                switch reference.kind {
                case .name(let name): names.insert(name)
                case .sid(let sid): sids.insert(sid)
                case .relativeID(let rid): relativeIDs.insert(Int64(rid))
                }
            }
            self.names = names.sorted()
            self.sids = sids.sorted()
            self.relativeIDs = relativeIDs.sorted()
        }

        var isEmpty: Bool { names.isEmpty && sids.isEmpty && relativeIDs.isEmpty }
    }
}
