import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

/// A `charter serve` process of this build on a loopback port, against the test database.
final class ServeProcess: Sendable {
    let host: String
    let port: Int
    private let process: Process

    var baseURL: String { "http://\(host):\(port)" }

    /// The `charter` executable next to the test bundle (`swift build --build-tests` builds both).
    static var executable: URL {
        URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("charter")
    }

    private init(host: String, port: Int, process: Process) {
        self.host = host
        self.port = port
        self.process = process
    }

    /// Starts a replica listening on `host` (a connector site's `hostAddress` for the site to reach it) and waits
    /// until `/healthz` answers; tries other ports if one is taken.
    static func start(
        host: String = "127.0.0.1", drainSeconds: Int = 2, environment extra: [String: String] = [:], http: HTTPClient
    ) async throws -> ServeProcess {
        for _ in 0..<5 {
            let port = Int.random(in: 20_000...60_000)
            let process = Process()
            process.executableURL = executable
            process.arguments = ["serve", "--host", host, "--port", String(port)]
            var environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("CHARTER_") }
            environment["CHARTER_DATABASE_URL"] = TestDatabase.appURL
            environment["CHARTER_KEK"] = TestDomain.kek
            environment["CHARTER_DIRECTORY_SYNC_POLL_SECONDS"] = "0"
            environment["CHARTER_LOG_LEVEL"] = "warning"
            // The test DC and webhook receivers run on loopback, which the outbound policy refuses by default.
            environment["CHARTER_OUTBOUND_ALLOWED_CIDRS"] = "127.0.0.0/8,::1/128"
            environment["CHARTER_SHUTDOWN_DRAIN_SECONDS"] = String(drainSeconds)
            environment["CHARTER_SHUTDOWN_GRACE_SECONDS"] = "5"
            environment.merge(extra) { _, new in new }
            process.environment = environment
            process.standardOutput = FileHandle.nullDevice
            try process.run()
            let replica = ServeProcess(host: host, port: port, process: process)
            // Starting takes well under a second; 30 s only bounds a hang.
            for _ in 0..<300 where process.isRunning {
                if let response = try? await http.execute(
                    HTTPClientRequest(url: replica.baseURL + "/healthz"), timeout: .seconds(1)
                ), response.status == .ok {
                    return replica
                }
                try await Task.sleep(for: .milliseconds(100))
            }
            if process.isRunning { process.terminate() }
        }
        throw ServeProcessError.didNotStart
    }

    /// Sends SIGTERM and waits for the exit status (a hang is bounded at 60 s).
    func terminate() async throws -> Int32 {
        if process.isRunning { process.terminate() }
        for _ in 0..<600 where process.isRunning {
            try await Task.sleep(for: .milliseconds(100))
        }
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            throw ServeProcessError.didNotStop
        }
        return process.terminationStatus
    }

    deinit {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    }
}

enum ServeProcessError: Error {
    case didNotStart
    case didNotStop
}
