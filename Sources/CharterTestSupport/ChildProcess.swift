package import Foundation
import NIOPosix

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Runs a program to its end (`charter` subcommands, `scripts/samba-dc`, Python scripts) and reports its exit and
/// output.
///
/// The child is spawned and awaited on NIO's blocking thread pool: a cooperative thread blocked in `waitpid`
/// stalls the other tests, and Foundation's `Process` can hang waiting on Linux from a concurrency thread.
/// Output goes to files, not pipes, so a child that leaves daemons holding its descriptors (`samba-dc start`)
/// does not keep the read open.
package enum ChildProcess {
    /// How a run ended.
    package struct Termination: Sendable {
        /// The exit status; `nil` when a signal ended the child (or it could not be spawned: see ``spawned``).
        package var status: Int32?
        /// Whether the program was started at all.
        package var spawned: Bool
        /// What it wrote to standard output (empty unless captured).
        package var output: Data
        /// What it wrote to standard error (empty unless captured).
        package var errorOutput: String
    }

    /// Runs `executable` with `arguments` and `environment` and waits for it.
    ///
    /// - Parameters:
    ///   - environment: the child's whole environment; `nil` passes this process's.
    ///   - captureOutput: whether standard output and error are kept (otherwise inherited).
    package static func run(
        _ executable: String, _ arguments: [String], environment: [String: String]? = nil, captureOutput: Bool = true
    ) async throws -> Termination {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("charter-child-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let outputFile = directory.appendingPathComponent("stdout").path
        let errorFile = directory.appendingPathComponent("stderr").path
        let argv = [executable] + arguments
        let envp = (environment ?? ProcessInfo.processInfo.environment).map { "\($0.key)=\($0.value)" }
        let (spawned, status) = try await NIOThreadPool.singleton.runIfActive { () -> (Bool, Int32) in
            var cArguments = argv.map { strdup($0) } + [nil]
            var cEnvironment = envp.map { strdup($0) } + [nil]
            defer { (cArguments + cEnvironment).forEach { free($0) } }
            #if canImport(Darwin)
                var actions: posix_spawn_file_actions_t? = nil
            #else
                var actions = posix_spawn_file_actions_t()
            #endif
            posix_spawn_file_actions_init(&actions)
            defer { posix_spawn_file_actions_destroy(&actions) }
            if captureOutput {
                posix_spawn_file_actions_addopen(&actions, 1, outputFile, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
                posix_spawn_file_actions_addopen(&actions, 2, errorFile, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
            }
            var pid: pid_t = 0
            guard posix_spawn(&pid, executable, &actions, nil, &cArguments, &cEnvironment) == 0 else {
                return (false, -1)
            }
            var status: Int32 = 0
            while waitpid(pid, &status, 0) == -1, errno == EINTR {}
            return (true, status)
        }
        // WIFEXITED and WEXITSTATUS, which Swift does not import.
        let exited = spawned && status & 0x7f == 0
        return Termination(
            status: exited ? (status >> 8) & 0xff : nil,
            spawned: spawned,
            output: captureOutput ? (FileManager.default.contents(atPath: outputFile) ?? Data()) : Data(),
            errorOutput: captureOutput
                ? String(decoding: FileManager.default.contents(atPath: errorFile) ?? Data(), as: UTF8.self) : ""
        )
    }
}
