import CharterBundle
import Foundation

/// Runs `Interop/jose_interop.py` (joserfc) with the interpreter named by `CHARTER_PYTHON`
/// (default `python3`) and returns its JSON answer (tests only).
///
/// A missing interpreter or a missing joserfc is a failure with a hint, never a skip.
enum InteropScript {
    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    static var interpreter: String {
        TestEnvironment.python ?? "python3"
    }

    static func run(_ mode: String, _ input: [String: JSONValue]) async throws -> [String: JSONValue] {
        guard let script = Bundle.module.url(forResource: "jose_interop", withExtension: "py", subdirectory: "Interop")
        else {
            throw Failure(description: "Interop/jose_interop.py is not in the test bundle's resources")
        }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "charter-interop-\(UUID().uuidString)"
        )
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let inputFile = directory.appendingPathComponent("input.json")
        try JSONValue.object(input).canonicalData.write(to: inputFile)

        let ended = try await ChildProcess.run("/usr/bin/env", [interpreter, script.path, mode, inputFile.path])
        guard ended.spawned else {
            throw Failure(description: "cannot start /usr/bin/env to run \(interpreter)")
        }
        let errorText = ended.errorOutput
        switch ended.status {
        case 0:
            return try JSONDecoder().decode([String: JSONValue].self, from: ended.output)
        case 3:
            throw Failure(
                description: "joserfc is missing for \(interpreter): \(errorText)"
                    + "hint: \(interpreter) -m pip install 'joserfc>=1.6,<2', or set CHARTER_PYTHON to an interpreter that has it"
            )
        case 126, 127:
            throw Failure(
                description: "the Python interpreter '\(interpreter)' was not found: \(errorText)"
                    + "hint: install python3 or set CHARTER_PYTHON to a Python 3 interpreter with joserfc"
            )
        default:
            throw Failure(
                description: "jose_interop.py \(mode) failed (exit \(ended.status.map(String.init) ?? "by a signal")): \(errorText)"
            )
        }
    }
}
