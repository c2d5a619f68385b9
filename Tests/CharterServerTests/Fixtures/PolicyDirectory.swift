import CharterCore
import CharterStore
import Foundation
import PostgresNIO

/// The sample directory of docs/policy.md, stored in a tenant's directory tables as a sync would leave it.
///
/// ```
/// OU corp
/// ├── OU staff ── OU finance ── alice
/// │          └── bob, carol
/// ├── OU workstations ── ws1, ws2
/// └── OU servers ── srv1
/// financeAdmins ∋ alice,  finance ∋ financeAdmins,  allStaff ∋ finance
/// helpdesk ∋ bob, itAdmins;  cycleA ∋ carol, cycleB;  cycleB ∋ cycleA;  kiosks ∋ ws2;  servers ∋ srv1
/// Domain Users: primary group of every user; dave is in no OU
/// ```
struct PolicyDirectory: Sendable {
    /// Every object's name and GUID (fresh GUIDs per directory).
    let guids: [String: ObjectGUID]
    let kinds: [String: String]

    subscript(_ name: String) -> ObjectGUID {
        guard let guid = guids[name] else { fatalError("no object \(name) in the sample directory") }
        return guid
    }

    /// The name of a GUID, for readable expectations.
    func name(of guid: String) -> String {
        guids.first { $0.value.description == guid }?.key ?? guid
    }

    static let ous = ["corp", "staff", "finance", "workstations", "servers"]
    static let groups = [
        "financeAdmins", "finance", "allStaff", "helpdesk", "itAdmins", "cycleA", "cycleB", "kiosks",
        "servers", "domainUsers",
    ]
    static let users = ["alice", "bob", "carol", "dave"]
    static let computers = ["ws1", "ws2", "srv1"]

    /// OU placement: object → OU it lies directly in.
    static let parents: [String: String] = [
        "ou:staff": "ou:corp", "ou:finance": "ou:staff", "ou:workstations": "ou:corp", "ou:servers": "ou:corp",
        "alice": "ou:finance", "bob": "ou:staff", "carol": "ou:staff",
        "ws1": "ou:workstations", "ws2": "ou:workstations", "srv1": "ou:servers",
    ]

    /// Direct `member` edges: group → members.
    static let members: [String: [String]] = [
        "financeAdmins": ["alice"], "finance": ["financeAdmins"], "allStaff": ["finance"],
        "helpdesk": ["bob", "itAdmins"], "cycleA": ["carol", "cycleB"], "cycleB": ["cycleA"],
        "kiosks": ["ws2"], "servers": ["srv1"],
    ]

    init() {
        var guids: [String: ObjectGUID] = [:]
        var kinds: [String: String] = [:]
        // OU "finance" and group "finance" share a name in the docs; the OUs are keyed "ou:<name>".
        for name in Self.ous {
            guids["ou:\(name)"] = ObjectGUID(UUID())
            kinds["ou:\(name)"] = "ou"
        }
        for (names, kind) in [(Self.groups, "group"), (Self.users, "user"), (Self.computers, "computer")] {
            for name in names {
                guids[name] = ObjectGUID(UUID())
                kinds[name] = kind
            }
        }
        self.guids = guids
        self.kinds = kinds
    }

    /// The closure Core computes for this directory, as a sync stores it.
    var closure: MembershipClosure {
        var graph = MembershipGraph()
        for (group, members) in Self.members {
            graph.members[self[group]] = Set(members.map { self[$0] })
        }
        for user in Self.users {
            graph.primaryGroups[self[user]] = self["domainUsers"]
        }
        return graph.closure()
    }

    /// Stores the directory in `tenant`'s tables, under a new connection (as the schema owner).
    func store(in tenant: TenantID, msp: MSPID) async throws {
        let closureRows = closure.rows
        try await TestApp.withOwner { database in
            try await database.withTenant(tenant, msp: msp, logger: TestApp.logger) { tx in
                let connection = UUID()
                try await tx.query(
                    """
                    INSERT INTO directory_connections (tenant_id, id, name, urls, base_dn, bind_dn,
                        bind_password_sealed, tls_mode)
                    VALUES (\(tenant.rawValue), \(connection), 'Sample', \(["ldaps://dc.example.test"]),
                        'DC=example,DC=test', 'CN=sync,DC=example,DC=test', 'k1.nonce.sealed', 'ldaps')
                    """
                )
                for (name, guid) in guids {
                    let kind = kinds[name] ?? "group"
                    let parent = Self.parents[name].map { self[$0].rawValue }
                    let dn = "CN=\(name),DC=example,DC=test"
                    try await tx.query(
                        """
                        INSERT INTO directory_objects (tenant_id, connection_id, guid, kind, dn, parent_guid, name,
                            usn_changed)
                        VALUES (\(tenant.rawValue), \(connection), \(guid.rawValue), \(kind), \(dn), \(parent),
                            \(name), 1)
                        """
                    )
                }
                for row in closureRows {
                    try await tx.query(
                        """
                        INSERT INTO directory_memberships (tenant_id, connection_id, member_guid, group_guid, depth,
                            chain)
                        VALUES (\(tenant.rawValue), \(connection), \(row.member.rawValue), \(row.group.rawValue),
                            \(row.depth), \(row.chain.map(\.rawValue)))
                        """
                    )
                }
            }
        }
    }
}
