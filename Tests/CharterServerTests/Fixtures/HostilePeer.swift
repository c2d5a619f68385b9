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

    private let server: ScriptServer
    var port: Int { server.port }
    var directory: URL { server.directory }

    private init(server: ScriptServer) {
        self.server = server
    }

    /// Starts a peer in `mode` (see the script's documentation) and waits until it listens.
    static func start(_ mode: String) async throws -> HostilePeer {
        let interpreter = TestEnvironment.python ?? "/usr/bin/python3"
        let script = try #require(
            Bundle.module.url(forResource: "hostile_peer", withExtension: "py"), "hostile_peer.py is not in the test bundle"
        )
        let server = try await ScriptServer.start(
            interpreter, prefix: "charter-peer", arguments: { [script.path, mode, $0.path] },
            failure: { "the hostile peer (\(mode)) did not start with \(interpreter): \($0)" }
        )
        return HostilePeer(server: server)
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
}
