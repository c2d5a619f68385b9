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
        ProcessInfo.processInfo.environment["CHARTER_PYTHON"] ?? "python3"
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
        let outputFile = directory.appendingPathComponent("output.json")
        let errorFile = directory.appendingPathComponent("error.txt")
        try JSONValue.object(input).canonicalData.write(to: inputFile)
        _ = FileManager.default.createFile(atPath: outputFile.path, contents: nil)
        _ = FileManager.default.createFile(atPath: errorFile.path, contents: nil)

        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [interpreter, script.path, mode, inputFile.path]
        process.standardOutput = try FileHandle(forWritingTo: outputFile)
        process.standardError = try FileHandle(forWritingTo: errorFile)
        // Waits for the exit without blocking a thread of the cooperative pool, which other tests need meanwhile.
        try await withCheckedThrowingContinuation { (exited: CheckedContinuation<Void, any Error>) in
            process.terminationHandler = { _ in exited.resume() }
            do {
                try process.run()
            } catch {
                process.terminationHandler = nil
                exited.resume(throwing: Failure(description: "cannot start /usr/bin/env to run \(interpreter): \(error)"))
            }
        }
        let output = try Data(contentsOf: outputFile)
        let errorText = String(decoding: try Data(contentsOf: errorFile), as: UTF8.self)
        switch process.terminationStatus {
        case 0:
            return try JSONDecoder().decode([String: JSONValue].self, from: output)
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
                description: "jose_interop.py \(mode) failed (exit \(process.terminationStatus)): \(errorText)"
            )
        }
    }
}
