import ArgumentParser
import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

/// `charter healthcheck`: an HTTP probe for images without a shell (Docker `HEALTHCHECK`, Kubernetes `exec`
/// probes, compose `healthcheck`).
///
/// Exits 0 when the URL answers 2xx within the timeout; otherwise prints one line on standard error and exits 1.
struct HealthcheckCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "healthcheck",
        abstract: "Exit 0 if the service answers 2xx, else print why and exit 1.",
        discussion: """
            The default URL is http://127.0.0.1:PORT/healthz, with PORT from CHARTER_HTTP_PORT (default 8080). \
            Use --url http://127.0.0.1:8080/readyz to also check the database and schema.
            """
    )

    @Option(help: "The URL to GET (default http://127.0.0.1:$CHARTER_HTTP_PORT/healthz).")
    var url: String?

    @Option(help: "Seconds to wait for the whole answer.")
    var timeout: Double = 3

    func validate() throws {
        guard timeout > 0, timeout <= 300 else { throw ValidationError("--timeout must be more than 0 and at most 300 seconds") }
    }

    func run() async throws {
        let target = try url ?? Self.defaultURL(environment: ProcessInfo.processInfo.environment)
        let failure = await Self.check(url: target, timeout: .milliseconds(Int64(timeout * 1000)))
        if let failure {
            FileHandle.standardError.write(Data("unhealthy: \(target): \(failure)\n".utf8))
            throw ExitCode.failure
        }
    }

    /// `http://127.0.0.1:PORT/healthz`, PORT from `CHARTER_HTTP_PORT`.
    static func defaultURL(environment: [String: String]) throws -> String {
        guard let raw = environment["CHARTER_HTTP_PORT"] else { return "http://127.0.0.1:8080/healthz" }
        guard let port = Int(raw.trimmingCharacters(in: .whitespaces)), (1...65535).contains(port) else {
            throw CLIFailure("CHARTER_HTTP_PORT must be an integer from 1 to 65535, not '\(raw)'")
        }
        return "http://127.0.0.1:\(port)/healthz"
    }

    /// GETs `url`; returns `nil` on a 2xx answer, else why not.
    static func check(url: String, timeout: TimeAmount) async -> String? {
        var configuration = HTTPClient.Configuration()
        configuration.timeout = .init(connect: timeout, read: timeout)
        configuration.redirectConfiguration = .disallow
        let client = HTTPClient(configuration: configuration)
        let outcome: String?
        do {
            let request = HTTPClientRequest(url: url)
            let response = try await client.execute(request, timeout: timeout)
            let body = try? await response.body.collect(upTo: 4096)
            if (200..<300).contains(response.status.code) {
                outcome = nil
            } else {
                let text = body.map { String(buffer: $0) }?.split(whereSeparator: \.isNewline).first.map(String.init)
                outcome = "HTTP \(response.status.code)" + (text.map { " \($0.prefix(200))" } ?? "")
            }
        } catch {
            outcome = "\(error)"
        }
        try? await client.shutdown()
        return outcome
    }
}
