package import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// A long-running process inside a ``ConnectorSite`` (a `charter connector`), started by
/// ``ConnectorSite/launch(_:_:environment:)``: its output goes to files in its own folder, its end can be awaited,
/// and it can be stopped politely (SIGTERM) or killed mid-work (SIGKILL), as the resume tests do.
///
/// `ip netns exec` enters the namespace and execs the program without forking, so ``pid`` is the program's.
/// The process is killed and its folder removed when the last reference goes.
package final class SiteProcess: Sendable {
    /// How the process ended.
    package struct Ending: Sendable, Equatable, CustomStringConvertible {
        /// The exit status, or the signal that ended it.
        package var code: Int32
        /// Whether a signal ended it (``code`` is then the signal number).
        package var signalled: Bool

        package init(code: Int32, signalled: Bool) {
            self.code = code
            self.signalled = signalled
        }

        package var description: String { signalled ? "signal \(code)" : "exit status \(code)" }
    }

    package let pid: Int32
    /// The process's own folder: `stdout.txt` and `stderr.txt`.
    package let directory: URL
    private let ending: EndingLatch

    private init(pid: Int32, directory: URL, ending: EndingLatch) {
        self.pid = pid
        self.directory = directory
        self.ending = ending
    }

    /// Starts `command` (an absolute executable path and its arguments) with `environment`.
    ///
    /// Spawned with every signal unblocked and at its default disposition, as a service manager starts a
    /// daemon: the test process ignores or blocks some (SIGTERM among them), and a child would inherit that.
    /// A thread of its own waits for the child, so no shared pool thread is held for its whole life.
    static func start(_ command: [String], environment: [String: String]) throws -> SiteProcess {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("charter-site-process-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let output = directory.appendingPathComponent("stdout.txt").path
        let errors = directory.appendingPathComponent("stderr.txt").path
        var cArguments = command.map { strdup($0) } + [nil]
        var cEnvironment = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { (cArguments + cEnvironment).forEach { free($0) } }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, output, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_addopen(&actions, 2, errors, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var none = sigset_t()
        sigemptyset(&none)
        var all = sigset_t()
        sigfillset(&all)
        posix_spawnattr_setsigmask(&attributes, &none)
        posix_spawnattr_setsigdefault(&attributes, &all)
        // Its own process group: the child's children are not the test run's.
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP))
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, command[0], &actions, &attributes, &cArguments, &cEnvironment)
        guard spawned == 0 else {
            try? FileManager.default.removeItem(at: directory)
            throw ConnectorSite.Failure(description: "cannot start \(command[0]): \(String(cString: strerror(spawned)))")
        }
        let ending = EndingLatch()
        Thread.detachNewThread { [pid] in
            var status: Int32 = 0
            while waitpid(pid, &status, 0) == -1, errno == EINTR {}
            // WIFSIGNALED and WTERMSIG, WEXITSTATUS, which Swift does not import.
            let signal = status & 0x7f
            ending.finish(Ending(code: signal != 0 ? signal : (status >> 8) & 0xff, signalled: signal != 0))
        }
        return SiteProcess(pid: pid, directory: directory, ending: ending)
    }

    /// Whether it still runs.
    package var isRunning: Bool { ending.value == nil }

    /// What it wrote to standard output so far.
    package var output: String { read("stdout.txt") }

    /// What it wrote to standard error so far.
    package var errorOutput: String { read("stderr.txt") }

    private func read(_ name: String) -> String {
        String(decoding: FileManager.default.contents(atPath: directory.appendingPathComponent(name).path) ?? Data(), as: UTF8.self)
    }

    /// Waits until it ends; `nil` only when the waiting task is cancelled first.
    package func ended() async -> Ending? {
        await ending.wait()
    }

    /// Waits until it ends, at most `limit`; `nil` when it still runs then.
    package func ended(within limit: Duration) async -> Ending? {
        await withTaskGroup(of: Ending?.self) { group in
            group.addTask { await self.ending.wait() }
            group.addTask {
                try? await Task.sleep(for: limit)
                return nil
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            return first
        }
    }

    /// Sends SIGTERM and waits for the end; SIGKILL when it has not ended within `grace`.
    @discardableResult
    package func terminate(grace: Duration = .seconds(10)) async -> Ending? {
        if isRunning { Glibc.kill(pid, SIGTERM) }
        if let ended = await ended(within: grace) { return ended }
        return await self.kill()
    }

    /// Sends SIGKILL (no chance to finish anything: a connector killed mid-run) and waits for the end.
    @discardableResult
    package func kill() async -> Ending? {
        if isRunning { Glibc.kill(pid, SIGKILL) }
        return await ended()
    }

    deinit {
        // SIGKILL and no wait, which would block a cooperative thread; the waiting thread reaps the child.
        if isRunning { Glibc.kill(pid, SIGKILL) }
        try? FileManager.default.removeItem(at: directory)
    }
}

/// The ending of a process, set once by its termination handler: waiters resume then (or at once when it is
/// set), or with `nil` when their task is cancelled.
private final class EndingLatch: Sendable {
    private struct State {
        var ending: SiteProcess.Ending?
        var waiters: [UUID: CheckedContinuation<SiteProcess.Ending?, Never>] = [:]
    }

    private let state = Mutex(State())

    var value: SiteProcess.Ending? { state.withLock { $0.ending } }

    func finish(_ ending: SiteProcess.Ending) {
        let waiters = state.withLock { state in
            state.ending = ending
            defer { state.waiters = [:] }
            return state.waiters.values
        }
        for waiter in waiters { waiter.resume(returning: ending) }
    }

    /// The ending; `nil` only when the waiting task is cancelled first.
    func wait() async -> SiteProcess.Ending? {
        let id = UUID()
        return await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let ending: SiteProcess.Ending?? = state.withLock { state in
                    if let ending = state.ending { return .some(ending) }
                    if Task.isCancelled { return .some(nil) }
                    state.waiters[id] = continuation
                    return nil
                }
                if let ending { continuation.resume(returning: ending) }
            }
        } onCancel: {
            let waiter = state.withLock { $0.waiters.removeValue(forKey: id) }
            waiter?.resume(returning: nil)
        }
    }
}
