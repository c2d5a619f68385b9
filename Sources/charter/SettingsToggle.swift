import AsyncHTTPClient
import CharterAgent
import CharterBundle
import Foundation
import NIOCore
import NIOFoundationCompat
import NIOHTTP1
import Synchronization

/// Changes a tenant's global settings, or a baseline's settings fragment, and back:
/// `endpoint.fallback_poll_interval_seconds` ± 1 s, which changes the effective policy of every device it
/// reaches (so each gets a new bundle) and nothing else.
struct SettingsToggle: Sendable {
    let httpClient: HTTPClient
    let url: String
    let apiKey: String
    /// Where the `endpoint` section sits in the document: `["endpoint"]` in the settings, `["settings",
    /// "endpoint"]` in a baseline.
    let section: [String]
    private let original = OriginalValue()

    init(httpClient: HTTPClient, url: String, apiKey: String, section: [String] = ["endpoint"]) {
        self.httpClient = httpClient
        self.url = url
        self.apiKey = apiKey
        self.section = section
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
        let current = interval(in: document) ?? Self.defaultInterval
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
        if interval(in: document) != first {
            try await write(document, interval: first, etag: etag)
        }
    }

    private func interval(in document: JSONValue) -> Int64? {
        section.reduce(Optional(document)) { value, key in value?[key] }?[Self.field]?.integerValue
    }

    /// `document` with the interval set in its section, the objects on the way created when absent.
    private static func setting(_ interval: Int64, at path: ArraySlice<String>, in document: JSONValue?) -> JSONValue {
        var members = document?.objectValue ?? [:]
        if let key = path.first {
            members[key] = setting(interval, at: path.dropFirst(), in: members[key])
        } else {
            members[field] = .integer(interval)
        }
        return .object(members)
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
        guard case .object = document else {
            throw AgentError.invalidResponse("the settings document is not a JSON object")
        }
        var request = HTTPClientRequest(url: url)
        request.method = .PUT
        request.headers.add(name: "Authorization", value: "Bearer \(apiKey)")
        request.headers.add(name: "Content-Type", value: "application/json")
        if let etag {
            request.headers.add(name: "If-Match", value: etag)
        }
        request.body = .bytes(ByteBuffer(data: Self.setting(interval, at: section[...], in: document).canonicalData))
        let response = try await httpClient.execute(request, timeout: .seconds(30))
        let body = try await response.body.collect(upTo: 1 << 22)
        guard response.status == .ok else {
            throw AgentError.status(Int(response.status.code), problem: Problem.decode(from: Data(buffer: body)), retryAfter: nil)
        }
    }
}
