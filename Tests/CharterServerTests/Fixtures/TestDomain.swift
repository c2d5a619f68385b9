import CharterBundle
import CharterCore
import CharterDirectory
import CharterServer
import CharterStore
import Foundation
import Logging
import NIOPosix
import Testing

/// The Samba AD DC that scripts/test starts (scripts/samba-dc), found through its environment variables, plus
/// builders of per-test OUs and objects over LDAP.
struct TestDomain {
    let url: String
    let bindDN: String
    let password: String
    let baseDN: String
    let logger = TestApp.logger
    let threadPool = NIOThreadPool.ldap

    init() {
        let environment = ProcessInfo.processInfo.environment
        url = environment["CHARTER_TEST_LDAP_URL"] ?? "ldap://127.0.0.2"
        bindDN = environment["CHARTER_TEST_LDAP_BIND_DN"] ?? "cn=Administrator,cn=Users,dc=charter,dc=test"
        password = environment["CHARTER_TEST_LDAP_PASSWORD"] ?? "Charter-Test-Pass1"
        baseDN = environment["CHARTER_TEST_LDAP_BASE_DN"] ?? "dc=charter,dc=test"
    }

    /// A random key-encryption key in SecretSealer's configuration form.
    static let kek: String = {
        let key = Data((0..<32).map { _ in UInt8.random(in: 0...255) }).base64EncodedString()
        return "test1:\(key)"
    }()

    static func sealer() throws -> SecretSealer { try SecretSealer(configuration: kek) }

    /// A bound administrator connection; a DC that is not running fails the test with a hint.
    func connect() async throws -> LDAPConnection {
        do {
            return try await LDAPConnection.connect(
                LDAPConfiguration(
                    urls: [url], transportSecurity: .plain, bindDN: bindDN, password: password,
                    destinations: TestApp.destinations
                ),
                threadPool: threadPool, logger: logger
            )
        } catch let error as LDAPError where error.isConnectionFailure {
            Issue.record("no Samba DC answers at \(url): \(error). Run the tests through scripts/test.")
            throw error
        }
    }

    /// An OU of its own for one test, directly under the base DN.
    func makeOU(_ ldap: LDAPConnection, _ prefix: String) async throws -> String {
        let dn = "OU=\(prefix)-\(UUID().uuidString.prefix(8)),\(baseDN)"
        try await ldap.add(dn, attributes: [("objectClass", ["organizationalUnit"])])
        return dn
    }

    /// Stores a connection to this DC for `tenant` with the base DN `base`.
    func makeConnection(
        tenant: TenantID, msp: MSPID, base: String, urls: [String]? = nil, threshold: DeletionThreshold = .init(),
        enabled: Bool = false
    ) async throws -> DirectoryConnection {
        let id = DirectoryConnectionID.random()
        let sealed = try Self.sealer().seal(
            password, context: DirectoryConnection.sealingContext(tenant: tenant, connection: id)
        )
        let now = Date()
        let connection = DirectoryConnection(
            id: id, tenantID: tenant, name: "Test DC", urls: urls ?? [url], baseDN: base, bindDN: bindDN,
            sealedPassword: sealed.description, tlsMode: .plain, caPEM: nil, interval: .seconds(3600),
            deletionThreshold: threshold, isEnabled: enabled, createdAt: now, updatedAt: now
        )
        try await TestApp.withOwner { database in
            try await database.withTenant(tenant, msp: msp, logger: logger) { tx in
                try await tx.directoryConnections(of: tenant).create(connection, msp: msp)
            }
        }
        return connection
    }
}

extension LDAPConnection {
    static func accountName(_ prefix: String = "u") -> String {
        prefix + UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(15).lowercased()
    }

    @discardableResult
    func addOU(_ name: String, in parent: String) async throws -> String {
        let dn = "OU=\(DistinguishedName.escape(name)),\(parent)"
        try await add(dn, attributes: [("objectClass", ["organizationalUnit"])])
        return dn
    }

    @discardableResult
    func addUser(_ cn: String, in parent: String, disabled: Bool = false) async throws -> String {
        let dn = "CN=\(DistinguishedName.escape(cn)),\(parent)"
        let account = Self.accountName()
        try await add(
            dn,
            attributes: [
                ("objectClass", ["user"]), ("sAMAccountName", [account]),
                ("userPrincipalName", ["\(account)@charter.test"]),
                ("userAccountControl", [String(0x220 | (disabled ? 0x2 : 0))]),
            ]
        )
        return dn
    }

    @discardableResult
    func addGroup(_ cn: String, in parent: String, members: [String] = []) async throws -> String {
        let dn = "CN=\(DistinguishedName.escape(cn)),\(parent)"
        var attributes: [(String, [String])] = [("objectClass", ["group"]), ("sAMAccountName", [Self.accountName("g")])]
        if !members.isEmpty { attributes.append(("member", members)) }
        try await add(dn, attributes: attributes)
        return dn
    }

    @discardableResult
    func addComputer(_ cn: String, in parent: String) async throws -> String {
        let dn = "CN=\(DistinguishedName.escape(cn)),\(parent)"
        try await add(
            dn,
            attributes: [
                ("objectClass", ["computer"]), ("sAMAccountName", [Self.accountName("c") + "$"]),
                ("dNSHostName", ["\(cn.lowercased()).charter.test"]), ("userAccountControl", ["4096"]),
            ]
        )
        return dn
    }

    func guid(of dn: String) async throws -> ObjectGUID {
        let entry = try #require(try await read(dn, attributes: ["objectGUID"]))
        return ObjectGUID(try #require(entry.value("objectGUID").flatMap { UUID(activeDirectoryBytes: $0) }))
    }

    /// The objectGUIDs of the groups under `base` that `dn` is in, directly or nested, as the DC computes it
    /// (LDAP_MATCHING_RULE_IN_CHAIN).
    func groupsInChain(of dn: String, under base: String) async throws -> Set<ObjectGUID> {
        let entries = try await searchAll(
            LDAPSearchRequest(
                base: base, scope: .subtree,
                filter: "(&(objectClass=group)(member:1.2.840.113556.1.4.1941:=\(LDAPFilter.escape(dn))))",
                attributes: ["objectGUID"]
            )
        )
        return Set(entries.compactMap { $0.value("objectGUID").flatMap { UUID(activeDirectoryBytes: $0) } }.map(ObjectGUID.init))
    }

    /// Every OU, group, user and computer under `base`: GUID → DN.
    func objects(under base: String) async throws -> [ObjectGUID: String] {
        let entries = try await searchAll(
            LDAPSearchRequest(
                base: base, scope: .subtree,
                filter: "(|(objectClass=organizationalUnit)(objectClass=group)(objectClass=user))",
                attributes: ["objectGUID"]
            )
        )
        var objects: [ObjectGUID: String] = [:]
        for entry in entries {
            if let guid = entry.value("objectGUID").flatMap({ UUID(activeDirectoryBytes: $0) }) {
                objects[ObjectGUID(guid)] = entry.dn
            }
        }
        return objects
    }
}
