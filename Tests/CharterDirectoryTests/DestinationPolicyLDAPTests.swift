import CharterCore
import CharterDirectory
import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// libldap only ever talks to addresses the outbound policy allows (issue 14, item 2).
@Suite("LDAP and the outbound policy")
struct DestinationPolicyLDAPTests {
    let directory = TestDirectory()

    /// Reads what a connection queued on `listener` sent before it was closed: `0` when it closed without a
    /// byte, `-1` when there was no connection (neither call waits).
    static func bytesSent(to listener: HungListener) -> Int {
        _ = fcntl(listener.fd, F_SETFL, O_NONBLOCK)
        let connection = accept(listener.fd, nil, nil)
        guard connection >= 0 else { return -1 }
        defer { close(connection) }
        var buffer = [UInt8](repeating: 0, count: 4096)
        return recv(connection, &buffer, buffer.count, Int32(MSG_DONTWAIT))
    }

    @Test(
        "the default policy refuses a loopback server after connecting and before TLS or the bind",
        arguments: ["127.0.0.1", "localhost"]
    )
    func defaultRefusesLoopback(host: String) async throws {
        let listener = try HungListener()
        defer { listener.close() }
        var configuration = directory.configuration(urls: ["ldap://\(host):\(listener.port)"], timeout: .seconds(5))
        configuration.destinations = DestinationPolicy()
        let error = await #expect(throws: LDAPError.self) {
            try await LDAPConnection.connect(configuration, threadPool: directory.threadPool, logger: directory.logger)
        }
        #expect(error?.refusal?.reason == .loopback, "\(String(describing: error))")
        #expect(error?.refusal?.host == "\(host):\(listener.port)")
        #expect(error?.isConnectionFailure == true)
        #expect(Self.bytesSent(to: listener) == 0)
    }

    @Test("the test DC is refused by default and reached once loopback is allowed")
    func allowedNetworks() async throws {
        var configuration = directory.configuration()
        configuration.destinations = DestinationPolicy()
        let error = await #expect(throws: LDAPError.self) {
            try await LDAPConnection.connect(configuration, threadPool: directory.threadPool, logger: directory.logger)
        }
        #expect(error?.refusal?.reason == .loopback)
        configuration.destinations = DestinationPolicy(allowedNetworks: [try #require(IPNetwork("127.0.0.2/32"))])
        let connection = try await directory.connect(configuration)
        connection.close()
    }

    @Test("a refused URL is skipped for the next one of the failover list")
    func failoverPastRefusal() async throws {
        let listener = try HungListener()
        defer { listener.close() }
        var configuration = directory.configuration(urls: ["ldap://127.0.0.1:\(listener.port)", directory.url])
        configuration.destinations = DestinationPolicy(allowedNetworks: [try #require(IPNetwork("127.0.0.2/32"))])
        let connection = try await directory.connect(configuration)
        #expect(connection.url == directory.url)
        connection.close()
    }
}
