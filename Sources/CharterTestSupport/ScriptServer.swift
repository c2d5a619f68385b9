package import Foundation

/// A local server run from a script (the SMTP sink, the hostile peer) until released: ready once it has
/// written the port it listens on to `directory/port`, killed and its directory removed when released.
package final class ScriptServer: Sendable {
    package struct Failure: Error, CustomStringConvertible {
        package let description: String
    }

    package let port: Int
    /// The server's own folder: its port file, its standard error, whatever it records.
    package let directory: URL
    private let process: Process

    private init(port: Int, directory: URL, process: Process) {
        self.port = port
        self.directory = directory
        self.process = process
    }

    /// Starts `executable` with the arguments `arguments(directory)` and waits until it listens.
    ///
    /// - Parameter failure: the message of the error thrown when it does not start, given what it wrote to
    ///   standard error.
    package static func start(
        _ executable: String, prefix: String, arguments: (URL) -> [String], failure: (String) -> String
    ) async throws -> ScriptServer {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("\(prefix)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let errors = directory.appendingPathComponent("stderr.txt")
        _ = FileManager.default.createFile(atPath: errors.path, contents: nil)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments(directory)
        process.standardOutput = FileHandle.nullDevice
        process.standardError = try FileHandle(forWritingTo: errors)
        try process.run()
        // Starting takes well under a second; 30 s only bounds a hang.
        let portFile = directory.appendingPathComponent("port")
        for _ in 0..<300 where process.isRunning {
            if let text = try? String(contentsOf: portFile, encoding: .utf8), let port = Int(text) {
                return ScriptServer(port: port, directory: directory, process: process)
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        if process.isRunning { process.terminate() }
        let output = (try? String(contentsOf: errors, encoding: .utf8)) ?? ""
        throw Failure(description: failure(output))
    }

    deinit {
        // SIGKILL (a child may inherit SIGTERM blocked), and no `waitUntilExit`, which would block a
        // cooperative thread; Foundation reaps the child.
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        try? FileManager.default.removeItem(at: directory)
    }
}
