import CharterDirectory
import Foundation
import NIOPosix
import Testing

#if canImport(Glibc)
    import Glibc
#endif

@Suite("LDAP connection against the Samba DC")
struct LDAPConnectionTests {
    let directory = TestDirectory()

    @Test("a simple bind over plain LDAP reads the rootDSE")
    func plainBind() async throws {
        let connection = try await directory.connect()
        defer { connection.close() }
        let root = try await connection.readRootDSE()
        #expect(root.string("defaultNamingContext")?.lowercased() == directory.baseDN.lowercased())
        #expect((root.integer("highestCommittedUSN") ?? 0) > 0)
        #expect(root.string("dsServiceName")?.hasPrefix("CN=NTDS Settings") == true)
    }

    @Test("a wrong password fails with invalidCredentials and the server's diagnostic text")
    func badPassword() async throws {
        let error = await #expect(throws: LDAPError.self) {
            try await LDAPConnection.connect(
                directory.configuration(password: "wrong"), threadPool: directory.threadPool, logger: directory.logger
            )
        }
        #expect(error?.code == .invalidCredentials)
        #expect(error?.operation == "bind")
        #expect(error?.diagnosticMessage.isEmpty == false)
        #expect(error?.url == directory.url)
    }

    @Test(
        "TLS with the DC's CA binds, as a file and as PEM text",
        arguments: [LDAPConfiguration.TransportSecurity.ldaps, .startTLS]
    )
    func tlsWithCA(security: LDAPConfiguration.TransportSecurity) async throws {
        let fromFile = try await directory.connect(directory.configuration(security))
        #expect(try await fromFile.readRootDSE().string("dsServiceName") != nil)
        fromFile.close()
        let pem = try String(contentsOfFile: directory.caFile, encoding: .utf8)
        let fromText = try await directory.connect(directory.configuration(security, trustRoots: .pem(pem)))
        #expect(try await fromText.readRootDSE().string("dsServiceName") != nil)
        fromText.close()
    }

    @Test(
        "TLS without the DC's CA fails certificate verification",
        arguments: [LDAPConfiguration.TransportSecurity.ldaps, .startTLS]
    )
    func tlsWithoutCA(security: LDAPConfiguration.TransportSecurity) async throws {
        let error = await #expect(throws: LDAPError.self) {
            try await LDAPConnection.connect(
                directory.configuration(security, trustRoots: .system), threadPool: directory.threadPool,
                logger: directory.logger
            )
        }
        // libldap reports a failed handshake as "Can't contact LDAP server" (ldaps) or "Connect error" (StartTLS).
        #expect(error?.isConnectionFailure == true)
        #expect(error?.operation == (security == .ldaps ? "bind" : "startTLS"))
    }

    @Test("a URL whose scheme does not fit the transport security is refused before connecting")
    func schemeMismatch() async throws {
        let error = await #expect(throws: LDAPError.self) {
            try await LDAPConnection.connect(
                directory.configuration(.ldaps, urls: [directory.url]), threadPool: directory.threadPool,
                logger: directory.logger
            )
        }
        #expect(error?.code == .parameterError)
    }

    @Test("a closed port fails with a connection error, and failover moves on")
    func closedPortAndFailover() async throws {
        let error = await #expect(throws: LDAPError.self) {
            try await LDAPConnection.connect(
                directory.configuration(urls: ["ldap://127.0.0.1:1"], timeout: .seconds(2)),
                threadPool: directory.threadPool, logger: directory.logger
            )
        }
        #expect(error?.isConnectionFailure == true)

        let connection = try await directory.connect(
            directory.configuration(urls: ["ldap://127.0.0.1:1", directory.url], timeout: .seconds(2))
        )
        #expect(connection.url == directory.url)
        connection.close()
    }

    @Test("a server that accepts but never answers fails with a timeout error instead of hanging")
    func hungServer() async throws {
        let listener = try HungListener()
        defer { listener.close() }
        // A pool of its own: the shared one may be busy with other suites' blocking calls.
        let pool = NIOThreadPool(numberOfThreads: 1)
        pool.start()
        defer { pool.shutdownGracefully { _ in } }
        let clock = ContinuousClock()
        let start = clock.now
        let error = await #expect(throws: LDAPError.self) {
            try await LDAPConnection.connect(
                directory.configuration(urls: ["ldap://127.0.0.1:\(listener.port)"], timeout: .seconds(1)),
                threadPool: pool, logger: directory.logger
            )
        }
        #expect(error?.isConnectionFailure == true)
        // Without the timeout the call would never return; the bound leaves room for a loaded machine
        // (parallel suites on two cores) without ever passing a hang.
        #expect(clock.now - start < .seconds(30))
    }

    @Test("a paged search streams every entry over several pages")
    func pagedSearch() async throws {
        let connection = try await directory.connect()
        defer { connection.close() }
        let ou = try await directory.makeOU(connection, "paged")
        for index in 0..<120 { try await connection.addUser("user \(index)", in: ou) }
        var pages: [Int] = []
        try await connection.search(
            LDAPSearchRequest(base: ou, filter: "(objectClass=user)", attributes: ["cn"], pageSize: 50)
        ) { entries in pages.append(entries.count) }
        #expect(pages == [50, 50, 20])
    }

    @Test("a server error carries the result code and the server's diagnostic text")
    func noSuchObject() async throws {
        let connection = try await directory.connect()
        defer { connection.close() }
        let error = await #expect(throws: LDAPError.self) {
            try await connection.searchAll(LDAPSearchRequest(base: "OU=missing-\(UUID()),\(directory.baseDN)"))
        }
        #expect(error?.code == .noSuchObject)
        #expect(error?.diagnosticMessage.isEmpty == false)
    }

    @Test("filter values are escaped so a name with filter syntax matches only itself")
    func escapedFilter() async throws {
        let connection = try await directory.connect()
        defer { connection.close() }
        let ou = try await directory.makeOU(connection, "filter")
        try await connection.addUser("a*)(cn=*", in: ou)
        try await connection.addUser("other", in: ou)
        let found = try await connection.searchAll(
            LDAPSearchRequest(base: ou, filter: LDAPFilter.equality("cn", "a*)(cn=*"), attributes: ["cn"])
        )
        #expect(found.map { $0.string("cn") } == ["a*)(cn=*"])
    }
}

/// A TCP listener on the loopback that never accepts: the kernel completes connections, nothing answers.
struct HungListener {
    let fd: Int32
    let port: UInt16

    init() throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
        }
        try #require(bound == 0)
        try #require(listen(fd, 16) == 0)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        self.fd = fd
        self.port = UInt16(bigEndian: address.sin_port)
    }

    func close() { _ = Glibc.close(fd) }
}
