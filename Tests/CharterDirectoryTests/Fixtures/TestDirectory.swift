import CharterCore
import CharterDirectory
import Foundation
import Logging
import NIOPosix
import Testing

/// The Samba AD DC that `scripts/samba-dc start DIR` runs, found through `DIR/env`'s variables.
struct TestDirectory {
    static let hint =
        "start the test DC with `scripts/samba-dc start /tmp/charter-samba-dc && . /tmp/charter-samba-dc/env`"

    let url: String
    let ldapsURL: String
    let caFile: String
    let bindDN: String
    let password: String
    let baseDN: String
    let logger = Logger(label: "charter.directory.tests")
    let threadPool = NIOThreadPool.ldap
    /// The test DC runs on loopback (127.0.0.2), which the outbound policy refuses unless allowed, as here.
    static let destinations = DestinationPolicy(allowedNetworks: [IPNetwork("127.0.0.0/8"), IPNetwork("::1/128")].compactMap { $0 })

    init() {
        let environment = ProcessInfo.processInfo.environment
        url = environment["CHARTER_TEST_LDAP_URL"] ?? "ldap://127.0.0.2"
        ldapsURL = environment["CHARTER_TEST_LDAPS_URL"] ?? "ldaps://127.0.0.2"
        caFile = environment["CHARTER_TEST_LDAP_CA"] ?? "/tmp/charter-samba-dc/tls/ca.pem"
        bindDN = environment["CHARTER_TEST_LDAP_BIND_DN"] ?? "cn=Administrator,cn=Users,dc=charter,dc=test"
        password = environment["CHARTER_TEST_LDAP_PASSWORD"] ?? "Charter-Test-Pass1"
        baseDN = environment["CHARTER_TEST_LDAP_BASE_DN"] ?? "dc=charter,dc=test"
    }

    func configuration(
        _ security: LDAPConfiguration.TransportSecurity = .plain, trustRoots: LDAPConfiguration.TrustRoots? = nil,
        urls: [String]? = nil, password: String? = nil, timeout: Duration = .seconds(10)
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
    func connect(_ configuration: LDAPConfiguration? = nil) async throws -> LDAPConnection {
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
    func makeOU(_ connection: LDAPConnection, _ prefix: String) async throws -> String {
        let dn = "OU=\(prefix)-\(UUID().uuidString.prefix(8)),\(baseDN)"
        try await connection.add(dn, attributes: [("objectClass", ["organizationalUnit"])])
        return dn
    }
}

/// Small builders of directory objects over LDAP.
extension LDAPConnection {
    /// A unique sAMAccountName (AD allows 20 characters).
    static func accountName(_ prefix: String = "u") -> String {
        prefix + UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(15).lowercased()
    }

    @discardableResult
    func addUser(_ cn: String, in parent: String, disabled: Bool = false, extra: [(String, [String])] = []) async throws
        -> String
    {
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
    func addGroup(_ cn: String, in parent: String, members: [String] = []) async throws -> String {
        let dn = "CN=\(DistinguishedName.escape(cn)),\(parent)"
        var attributes: [(String, [String])] = [
            ("objectClass", ["group"]), ("sAMAccountName", [Self.accountName("g")]),
        ]
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
}

extension LDAPConnection {
    @discardableResult
    func addContact(_ cn: String, in parent: String) async throws -> String {
        let dn = "CN=\(DistinguishedName.escape(cn)),\(parent)"
        try await add(dn, attributes: [("objectClass", ["contact"])])
        return dn
    }

    /// The objectGUID of `dn`.
    func guid(of dn: String) async throws -> UUID {
        let entry = try #require(try await read(dn, attributes: ["objectGUID"]))
        return try #require(entry.value("objectGUID").flatMap { UUID(activeDirectoryBytes: $0) })
    }
}
