import Foundation
import Testing

/// A misbehaving server on 127.0.0.1: `Fixtures/hostile_peer.py` (standard library only) in one of its modes,
/// run with `CHARTER_PYTHON` (or `python3`). Stopped when released.
final class HostilePeer: Sendable {
    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    /// One line of the peer's log.
    struct Event: Decodable, Sendable {
        var event: String
        var path: String?
        var received: Int?
        var sent: Int?
    }

    let port: Int
    let directory: URL
    private let process: Process

    private init(port: Int, directory: URL, process: Process) {
        self.port = port
        self.directory = directory
        self.process = process
    }

    /// Starts a peer in `mode` (see the script's documentation) and waits until it listens.
    static func start(_ mode: String) async throws -> HostilePeer {
        let interpreter = TestEnvironment.python ?? "/usr/bin/python3"
        let script = try #require(
            Bundle.module.url(forResource: "hostile_peer", withExtension: "py"), "hostile_peer.py is not in the test bundle"
        )
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("charter-peer-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let errors = directory.appendingPathComponent("stderr.txt")
        _ = FileManager.default.createFile(atPath: errors.path, contents: nil)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: interpreter)
        process.arguments = [script.path, mode, directory.path]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = try FileHandle(forWritingTo: errors)
        try process.run()
        // Starting takes well under a second; 30 s only bounds a hang.
        let portFile = directory.appendingPathComponent("port")
        for _ in 0..<300 where process.isRunning {
            if let text = try? String(contentsOf: portFile, encoding: .utf8), let port = Int(text) {
                return HostilePeer(port: port, directory: directory, process: process)
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        if process.isRunning { process.terminate() }
        let output = (try? String(contentsOf: errors, encoding: .utf8)) ?? ""
        throw Failure(description: "the hostile peer (\(mode)) did not start with \(interpreter): \(output)")
    }

    /// The events logged so far.
    func events() throws -> [Event] {
        guard let text = try? String(contentsOf: directory.appendingPathComponent("log"), encoding: .utf8) else {
            return []
        }
        return try text.split(separator: "\n").map { try JSONDecoder().decode(Event.self, from: Data($0.utf8)) }
    }

    /// The paths of the HTTP requests received so far.
    func paths() throws -> [String] { try events().filter { $0.event == "request" }.compactMap(\.path) }

    deinit {
        // SIGKILL (a child may inherit SIGTERM blocked), and no `waitUntilExit`, which would block a
        // cooperative thread; Foundation reaps the child.
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        try? FileManager.default.removeItem(at: directory)
    }
}
