import CharterDirectory
import Foundation
import NIOPosix
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Runs a second, throwaway Samba DC of its own (on another loopback address), so stopping it
/// mid-read cannot disturb the tests that share the main test DC.
@Suite("A domain controller stopped in the middle of a read")
struct StoppedDomainControllerTests {
    let directory = TestDirectory()

    /// `scripts/samba-dc`, found from this file through symlinks (the scratch package links the folder).
    static var script: String {
        if let path = ProcessInfo.processInfo.environment["CHARTER_SAMBA_DC_SCRIPT"] { return path }
        return URL(fileURLWithPath: #filePath).resolvingSymlinksInPath()
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("scripts/samba-dc").path
    }

    /// Runs `scripts/samba-dc` and waits for it, on the thread pool (Foundation's `Process` can
    /// hang waiting on Linux from a concurrency thread).
    static func run(_ arguments: [String], address: String) async throws {
        let argv = ["/bin/bash", script] + arguments
        let environment = ProcessInfo.processInfo.environment.merging(["SAMBA_DC_ADDRESS": address]) { $1 }
            .map { "\($0.key)=\($0.value)" }
        let status = try await NIOThreadPool.singleton.runIfActive { () -> Int32 in
            var cArguments = argv.map { strdup($0) } + [nil]
            var cEnvironment = environment.map { strdup($0) } + [nil]
            defer { (cArguments + cEnvironment).forEach { free($0) } }
            var pid: pid_t = 0
            guard posix_spawn(&pid, "/bin/bash", nil, nil, &cArguments, &cEnvironment) == 0 else { return -1 }
            var status: Int32 = 0
            while waitpid(pid, &status, 0) == -1, errno == EINTR {}
            return status
        }
        try #require(status == 0, "\(script) \(arguments.joined(separator: " ")) failed with status \(status)")
    }

    @Test("the read fails with a typed connection error and delivers no completed result")
    func stoppedMidRead() async throws {
        let address = ProcessInfo.processInfo.environment["CHARTER_TEST_STOPPABLE_DC_ADDRESS"] ?? "127.0.0.3"
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("charter-stoppable-dc-\(UUID())")
            .path
        try await Self.run(["start", folder], address: address)
        do {
            try await readWhileStopping(address: address, folder: folder)
        } catch {
            try? await Self.run(["stop", folder], address: address)
            try? FileManager.default.removeItem(atPath: folder)
            throw error
        }
        try await Self.run(["stop", folder], address: address)
        try? FileManager.default.removeItem(atPath: folder)
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
                    try await Self.run(["stop", folder], address: address)
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
