import CharterBundle
import CharterCore
import CharterDirectory
import CharterServer
import CharterStore
import Foundation
import Logging
import NIOPosix
import Testing

/// The Samba AD DC that scripts/test starts (``TestDirectory``), plus what the server's tests store about it: a
/// key-encryption key and directory connections.
struct TestDomain {
    let directory = TestDirectory()
    var url: String { directory.url }
    var bindDN: String { directory.bindDN }
    var password: String { directory.password }
    var baseDN: String { directory.baseDN }
    let logger = TestApp.logger
    var threadPool: NIOThreadPool { directory.threadPool }

    /// A random key-encryption key in SecretSealer's configuration form.
    static let kek: String = {
        let key = Data((0..<32).map { _ in UInt8.random(in: 0...255) }).base64EncodedString()
        return "test1:\(key)"
    }()

    static func sealer() throws -> SecretSealer { try SecretSealer(configuration: kek) }

    /// A bound administrator connection; a DC that is not running fails the test with a hint.
    func connect() async throws -> LDAPConnection {
        var configuration = directory.configuration()
        configuration.operationTimeout = .seconds(60)
        return try await directory.connect(configuration)
    }

    /// An OU of its own for one test, directly under the base DN.
    func makeOU(_ ldap: LDAPConnection, _ prefix: String) async throws -> String {
        try await directory.makeOU(ldap, prefix)
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
    /// The objectGUID of `dn` (CharterDirectoryTests has the UUID form, as its reader reports GUIDs).
    func guid(of dn: String) async throws -> ObjectGUID {
        let entry = try #require(try await read(dn, attributes: ["objectGUID"]))
        return ObjectGUID(try #require(entry.value("objectGUID").flatMap { UUID(activeDirectoryBytes: $0) }))
    }
}
