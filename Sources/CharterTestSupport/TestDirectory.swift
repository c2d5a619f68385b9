package import CharterCore
package import CharterDirectory
import Foundation
package import Logging
package import NIOPosix
import Testing

/// The Samba AD DC that scripts/test starts (`scripts/samba-dc`), found through its environment variables
/// (`CHARTER_TEST_LDAP_*`), with the defaults of `scripts/samba-dc start`.
package struct TestDirectory: Sendable {
    package static let hint =
        "start the test DC with `scripts/samba-dc start /tmp/charter-samba-dc && . /tmp/charter-samba-dc/env`"

    package let url: String
    package let ldapsURL: String
    package let caFile: String
    package let bindDN: String
    package let password: String
    package let baseDN: String
    package let logger = Logger(label: "charter.directory.tests")
    package let threadPool = NIOThreadPool.ldap
    /// The test DC runs on loopback (127.0.0.2), which the outbound policy refuses unless allowed, as here.
    package static let destinations = TestLoopback.destinations

    package init() {
        url = TestEnvironment.optional("CHARTER_TEST_LDAP_URL") ?? "ldap://127.0.0.2"
        ldapsURL = TestEnvironment.optional("CHARTER_TEST_LDAPS_URL") ?? "ldaps://127.0.0.2"
        caFile = TestEnvironment.optional("CHARTER_TEST_LDAP_CA") ?? "/tmp/charter-samba-dc/tls/ca.pem"
        bindDN = TestEnvironment.optional("CHARTER_TEST_LDAP_BIND_DN") ?? "cn=Administrator,cn=Users,dc=charter,dc=test"
        password = TestEnvironment.optional("CHARTER_TEST_LDAP_PASSWORD") ?? "Charter-Test-Pass1"
        baseDN = TestEnvironment.optional("CHARTER_TEST_LDAP_BASE_DN") ?? "dc=charter,dc=test"
    }

    /// The administrator's configuration for this DC.
    ///
    /// - Parameter timeout: Bounds the connect and each operation; the default is generous because the shared DC
    ///   answers writes slowly while many suites run at once. Tests of timeouts pass their own.
    package func configuration(
        _ security: LDAPConfiguration.TransportSecurity = .plain, trustRoots: LDAPConfiguration.TrustRoots? = nil,
        urls: [String]? = nil, password: String? = nil, timeout: Duration = .seconds(60)
    ) -> LDAPConfiguration {
        LDAPConfiguration(
            urls: urls ?? [security == .ldaps ? ldapsURL : url],
            transportSecurity: security,
            trustRoots: trustRoots ?? .pemFile(path: caFile),
            bindDN: bindDN,
            password: password ?? self.password,
            connectTimeout: timeout,
            operationTimeout: timeout,
            destinations: Self.destinations
        )
    }

    /// A bound administrator connection; a DC that is not running fails the test with the hint.
    package func connect(_ configuration: LDAPConfiguration? = nil) async throws -> LDAPConnection {
        do {
            return try await LDAPConnection.connect(
                configuration ?? self.configuration(), threadPool: threadPool, logger: logger
            )
        } catch let error as LDAPError where error.isConnectionFailure {
            Issue.record("no Samba DC answers at \(url): \(error). \(Self.hint)")
            throw error
        }
    }

    /// Creates an OU of its own for one test, named `prefix-<random>`, directly under the base DN.
    package func makeOU(_ connection: LDAPConnection, _ prefix: String) async throws -> String {
        let dn = "OU=\(prefix)-\(UUID().uuidString.prefix(8)),\(baseDN)"
        try await connection.add(dn, attributes: [("objectClass", ["organizationalUnit"])])
        return dn
    }
}

/// Builders of directory objects over LDAP, for tests that shape the DC before they read or sync it.
extension LDAPConnection {
    /// A unique sAMAccountName (AD allows 20 characters).
    package static func accountName(_ prefix: String = "u") -> String {
        prefix + UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(15).lowercased()
    }

    @discardableResult
    package func addOU(_ name: String, in parent: String) async throws -> String {
        let dn = "OU=\(DistinguishedName.escape(name)),\(parent)"
        try await add(dn, attributes: [("objectClass", ["organizationalUnit"])])
        return dn
    }

    @discardableResult
    package func addUser(
        _ cn: String, in parent: String, disabled: Bool = false, extra: [(String, [String])] = []
    ) async throws -> String {
        let dn = "CN=\(DistinguishedName.escape(cn)),\(parent)"
        let account = Self.accountName()
        try await add(
            dn,
            attributes: [
                ("objectClass", ["user"]), ("sAMAccountName", [account]),
                ("userPrincipalName", ["\(account)@charter.test"]),
                // NORMAL_ACCOUNT | PASSWD_NOTREQD, plus ACCOUNTDISABLE when asked.
                ("userAccountControl", [String(0x220 | (disabled ? 0x2 : 0))]),
            ] + extra
        )
        return dn
    }

    @discardableResult
    package func addGroup(_ cn: String, in parent: String, members: [String] = []) async throws -> String {
        let dn = "CN=\(DistinguishedName.escape(cn)),\(parent)"
        var attributes: [(String, [String])] = [
            ("objectClass", ["group"]), ("sAMAccountName", [Self.accountName("g")]),
        ]
        if !members.isEmpty { attributes.append(("member", members)) }
        try await add(dn, attributes: attributes)
        return dn
    }

    @discardableResult
    package func addComputer(_ cn: String, in parent: String) async throws -> String {
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

    @discardableResult
    package func addContact(_ cn: String, in parent: String) async throws -> String {
        let dn = "CN=\(DistinguishedName.escape(cn)),\(parent)"
        try await add(dn, attributes: [("objectClass", ["contact"])])
        return dn
    }

    /// The objectGUIDs of the groups under `base` that `dn` is in, directly or nested, as the DC computes it
    /// (LDAP_MATCHING_RULE_IN_CHAIN).
    package func groupsInChain(of dn: String, under base: String) async throws -> Set<ObjectGUID> {
        let entries = try await searchAll(
            LDAPSearchRequest(
                base: base, scope: .subtree,
                filter: "(&(objectClass=group)(member:1.2.840.113556.1.4.1941:=\(LDAPFilter.escape(dn))))",
                attributes: ["objectGUID"]
            )
        )
        return Set(
            entries.compactMap { $0.value("objectGUID").flatMap { UUID(activeDirectoryBytes: $0) } }
                .map(ObjectGUID.init)
        )
    }

    /// Every OU, group, user and computer under `base`: GUID → DN.
    package func objects(under base: String) async throws -> [ObjectGUID: String] {
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
