import ArgumentParser

/// `charter sleep SECONDS`: waits, then exits 0.
///
/// The image has no shell and no `sleep`; a Kubernetes `preStop` hook runs this so that endpoints and load
/// balancers stop sending new connections before the service receives SIGTERM and starts draining.
struct SleepCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sleep",
        abstract: "Wait SECONDS, then exit 0 (for preStop hooks in images without a shell)."
    )

    @Argument(help: "Seconds to wait, from 0 to 3600 (fractions allowed).")
    var seconds: Double

    func validate() throws {
        guard seconds >= 0, seconds <= 3600 else { throw ValidationError("SECONDS must be from 0 to 3600") }
    }

    func run() async throws {
        try await Task.sleep(for: .milliseconds(Int64(seconds * 1000)))
    }
}
