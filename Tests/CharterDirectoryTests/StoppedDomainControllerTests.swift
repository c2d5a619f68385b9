import CharterDirectory
import Foundation
import Testing

/// Runs a second, throwaway Samba DC of its own (on another loopback address), so stopping it
/// mid-read cannot disturb the tests that share the main test DC.
@Suite("A domain controller stopped in the middle of a read")
struct StoppedDomainControllerTests {
    let directory = TestDirectory()

    @Test("the read fails with a typed connection error and delivers no completed result")
    func stoppedMidRead() async throws {
        let address = ProcessInfo.processInfo.environment["CHARTER_TEST_STOPPABLE_DC_ADDRESS"] ?? "127.0.0.3"
        try await StoppableDomainController.with(address: address, prefix: "charter-stoppable-dc") { folder in
            try await readWhileStopping(address: address, folder: folder)
        }
    }

    func readWhileStopping(address: String, folder: String) async throws {
        var configuration = directory.configuration(urls: ["ldap://\(address)"], timeout: .seconds(5))
        configuration.transportSecurity = .plain
        let connection = try await directory.connect(configuration)
        defer { connection.close() }
        let ou = try await directory.makeOU(connection, "stopped")
        for index in 0..<40 { try await connection.addGroup("group \(index)", in: ou) }

        let reader = DirectoryReader(
            connection: connection, baseDN: ou, options: .init(pageSize: 5), logger: directory.logger
        )
        var delivered = 0
        let clock = ContinuousClock()
        var stoppedAt: ContinuousClock.Instant?
        let error = await #expect(throws: LDAPError.self) {
            _ = try await reader.readFull { batch in
                delivered += batch.objects.count
                if stoppedAt == nil {
                    try await StoppableDomainController.run(["stop", folder], address: address)
                    stoppedAt = clock.now
                }
            }
        }
        #expect(error?.isConnectionFailure == true)
        #expect(error?.operation == "search")
        #expect(delivered < 41)
        let elapsed = try clock.now - #require(stoppedAt)
        #expect(elapsed < .seconds(6))
    }
}
