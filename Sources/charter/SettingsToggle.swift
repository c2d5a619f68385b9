import AsyncHTTPClient
import CharterAgent
import CharterBundle
import Foundation
import NIOCore
import NIOFoundationCompat
import NIOHTTP1
import Synchronization

/// Changes a tenant's global settings and back: `endpoint.fallback_poll_interval_seconds` ± 1 s,
/// which changes every device's effective policy (so every device gets a new bundle) and nothing else.
struct SettingsToggle: Sendable {
    let httpClient: HTTPClient
    let url: String
    let apiKey: String
    private let original = OriginalValue()

    init(httpClient: HTTPClient, url: String, apiKey: String) {
        self.httpClient = httpClient
        self.url = url
        self.apiKey = apiKey
    }

    /// The value read before the first write, to restore at the end.
    private final class OriginalValue: Sendable {
        let value = Mutex<Int64?>(nil)
    }

    private static let field = "fallback_poll_interval_seconds"
    private static let defaultInterval: Int64 = 300
    private static let maximumInterval: Int64 = 86_400

    /// Reads the settings and writes them back with the interval moved off (or back to) its original value.
    func toggle() async throws {
        let (document, etag) = try await read()
        let current = document["endpoint"]?[Self.field]?.integerValue ?? Self.defaultInterval
        let first = original.value.withLock { value in
            if value == nil { value = current }
            return value ?? current
        }
        let changed = current == first ? (first < Self.maximumInterval ? first + 1 : first - 1) : first
        try await write(document, interval: changed, etag: etag)
    }

    /// Writes the original value back if a toggle left it changed.
    func restore() async throws {
        guard let first = original.value.withLock({ $0 }) else { return }
        let (document, etag) = try await read()
        if document["endpoint"]?[Self.field]?.integerValue != first {
            try await write(document, interval: first, etag: etag)
        }
    }

    private func read() async throws -> (JSONValue, String?) {
        var request = HTTPClientRequest(url: url)
        request.headers.add(name: "Authorization", value: "Bearer \(apiKey)")
        request.headers.add(name: "Accept", value: "application/json")
        let response = try await httpClient.execute(request, timeout: .seconds(30))
        let body = try await response.body.collect(upTo: 1 << 22)
        guard response.status == .ok else {
            throw AgentError.status(Int(response.status.code), problem: Problem.decode(from: Data(buffer: body)), retryAfter: nil)
        }
        let document = try JSONDecoder().decode(JSONValue.self, from: Data(buffer: body))
        return (document, response.headers.first(name: "ETag"))
    }

    private func write(_ document: JSONValue, interval: Int64, etag: String?) async throws {
        guard case .object(var members) = document else {
            throw AgentError.invalidResponse("the settings document is not a JSON object")
        }
        var endpoint = members["endpoint"]?.objectValue ?? [:]
        endpoint[Self.field] = .integer(interval)
        members["endpoint"] = .object(endpoint)
        var request = HTTPClientRequest(url: url)
        request.method = .PUT
        request.headers.add(name: "Authorization", value: "Bearer \(apiKey)")
        request.headers.add(name: "Content-Type", value: "application/json")
        if let etag {
            request.headers.add(name: "If-Match", value: etag)
        }
        request.body = .bytes(ByteBuffer(data: JSONValue.object(members).canonicalData))
        let response = try await httpClient.execute(request, timeout: .seconds(30))
        let body = try await response.body.collect(upTo: 1 << 22)
        guard response.status == .ok else {
            throw AgentError.status(Int(response.status.code), problem: Problem.decode(from: Data(buffer: body)), retryAfter: nil)
        }
    }
}
