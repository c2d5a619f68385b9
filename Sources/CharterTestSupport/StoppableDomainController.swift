import Foundation
import Testing

/// A throwaway Samba DC of a test's own, started and stopped with `scripts/samba-dc` on another loopback
/// address, so stopping it mid-read cannot disturb the tests that share the main test DC.
package enum StoppableDomainController {
    /// `scripts/samba-dc`: `CHARTER_SAMBA_DC_SCRIPT`, or the repository's own.
    package static var script: String {
        TestEnvironment.optional("CHARTER_SAMBA_DC_SCRIPT")
            ?? TestEnvironment.repositoryRoot.appendingPathComponent("scripts/samba-dc").path
    }

    /// Runs `scripts/samba-dc` with `arguments` (`start FOLDER`, `stop FOLDER`) for the DC at `address`.
    package static func run(_ arguments: [String], address: String) async throws {
        let environment = ProcessInfo.processInfo.environment.merging(["SAMBA_DC_ADDRESS": address]) { $1 }
        let ended = try await ChildProcess.run(
            "/bin/bash", [script] + arguments, environment: environment, captureOutput: false
        )
        try #require(
            ended.status == 0, "\(script) \(arguments.joined(separator: " ")) failed: \(ended.status.map(String.init) ?? "no exit status")"
        )
    }

    /// Starts a DC at `address` in a new folder named `prefix-<random>`, runs `body` with the folder, then stops
    /// the DC and removes the folder, also when `body` throws (`body` may stop the DC itself: a second stop is
    /// harmless).
    package static func with(
        address: String, prefix: String, _ body: (_ folder: String) async throws -> Void
    ) async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("\(prefix)-\(UUID())").path
        try await run(["start", folder], address: address)
        do {
            try await body(folder)
        } catch {
            try? await run(["stop", folder], address: address)
            try? FileManager.default.removeItem(atPath: folder)
            throw error
        }
        try await run(["stop", folder], address: address)
        try? FileManager.default.removeItem(atPath: folder)
    }
}
