package import AsyncHTTPClient
package import CharterAgent
package import CharterAgentWire
import CharterBundle
package import Crypto
package import Foundation
package import Logging
package import NIOCore
import NIOFoundationCompat
import NIOHTTP1

/// The connector side of every call of docs/connector-protocol.md, over an `HTTPClient` the caller owns.
///
/// Every request carries `Charter-Connector-Protocol`. Calls that need a connector token take it as an argument
/// (``ConnectorSession`` holds and renews it). They throw ``AgentError`` for an error status or an answer that
/// breaks the protocol (as the agent's client does), and the `HTTPClient`'s errors for transport failures.
package struct ConnectorClient: Sendable {
    package let httpClient: HTTPClient
    /// The service's base URL, without a trailing slash.
    package let baseURL: String
    /// The deadline of a call other than the event stream, a long poll and a page upload.
    package var requestTimeout: Duration
    package var logger: Logger

    /// The largest answer body read.
    static let maximumAnswerBytes = 1 << 20

    package init(httpClient: HTTPClient, baseURL: String, requestTimeout: Duration = .seconds(30), logger: Logger) {
        self.httpClient = httpClient
        var baseURL = baseURL
        while baseURL.hasSuffix("/") { baseURL.removeLast() }
        self.baseURL = baseURL
        self.requestTimeout = requestTimeout
        self.logger = logger
    }

    // MARK: - Identity

    /// Enrolls (or, with `current`, re-enrolls with proof): `POST /v1/connector/enroll`.
    ///
    /// - Parameters:
    ///   - token: The connector enrollment token (`chte_…`).
    ///   - name: The connector's name.
    ///   - hostname: This host's name.
    ///   - signingKey: The new Ed25519 key.
    ///   - current: The current identity, whose key signs the re-enrollment proof.
    /// - Returns: The answer, and whether an existing connector was re-enrolled (`200`).
    package func enroll(
        token: String, name: String, hostname: String, signingKey: Curve25519.Signing.PrivateKey,
        provingWith current: ConnectorState? = nil
    ) async throws -> (enrollment: ConnectorEnrollment, isReenrollment: Bool) {
        let jwk = try JWK(curve: .ed25519, x: signingKey.publicKey.rawRepresentation, use: .signature)
        var proof: ConnectorSignedChallenge?
        if let current {
            let challenge = try await challenge()
            let message = ConnectorProtocol.reenrollmentMessage(
                nonce: challenge.nonce, connectorID: current.connectorID, newKeyThumbprint: jwk.thumbprint
            )
            proof = ConnectorSignedChallenge(
                connectorID: current.connectorID, nonce: challenge.nonce,
                signature: Base64URL.encode(try current.signingKey.signature(for: Data(message.utf8)))
            )
        }
        let body = ConnectorEnrollRequest(
            enrollmentToken: token, name: name, hostname: hostname, version: ConnectorProtocolVersion.connectorVersion,
            signingKey: try JSONDecoder().decode(JSONValue.self, from: jwk.jsonData), proof: proof
        )
        let response = try await send(.POST, "/v1/connector/enroll", token: nil, json: body)
        guard response.status == .created || response.status == .ok else { throw await failure(response) }
        return (try await decode(ConnectorEnrollment.self, from: response), response.status == .ok)
    }

    /// A single-use nonce to sign: `POST /v1/connector/challenge`.
    package func challenge() async throws -> Challenge {
        let response = try await send(.POST, "/v1/connector/challenge", token: nil)
        guard response.status == .ok else { throw await failure(response) }
        return try await decode(Challenge.self, from: response)
    }

    /// A new connector token for a signature by the connector's key: challenge, then `POST /v1/connector/token`.
    package func renewToken(connectorID: String, signingKey: Curve25519.Signing.PrivateKey) async throws
        -> ConnectorTokenRenewal
    {
        let challenge = try await challenge()
        let message = ConnectorProtocol.tokenMessage(nonce: challenge.nonce, connectorID: connectorID)
        let body = ConnectorSignedChallenge(
            connectorID: connectorID, nonce: challenge.nonce,
            signature: Base64URL.encode(try signingKey.signature(for: Data(message.utf8)))
        )
        let response = try await send(.POST, "/v1/connector/token", token: nil, json: body)
        guard response.status == .ok else { throw await failure(response) }
        return try await decode(ConnectorTokenRenewal.self, from: response)
    }

    // MARK: - Heartbeat and events

    /// `POST /v1/connector/heartbeat`.
    package func heartbeat(_ body: ConnectorHeartbeat, token: String) async throws -> ConnectorHeartbeatAnswer {
        let response = try await send(.POST, "/v1/connector/heartbeat", token: token, json: body)
        guard response.status == .ok else { throw await failure(response) }
        return try await decode(ConnectorHeartbeatAnswer.self, from: response)
    }

    /// Opens the event stream: `GET /v1/connector/events` with `Accept: text/event-stream` and no deadline.
    package func events(lastEventID: String?, token: String) async throws -> ServerSentEventStream {
        var headers = HTTPHeaders([("Accept", "text/event-stream")])
        if let lastEventID { headers.add(name: "Last-Event-ID", value: lastEventID) }
        let response = try await send(.GET, "/v1/connector/events", token: token, headers: headers, deadline: .distantFuture)
        guard response.status == .ok else { throw await failure(response) }
        guard Self.mediaType(of: response) == "text/event-stream" else {
            throw AgentError.invalidResponse("event stream Content-Type is not text/event-stream")
        }
        return ServerSentEventStream(body: response.body, lastEventID: lastEventID)
    }

    /// Long-polls for events: `GET /v1/connector/events?wait=…&last_event_id=…` with `Accept: application/json`.
    package func pollEvents(lastEventID: String?, wait: Int = 25, token: String) async throws -> EventPoll {
        var path = "/v1/connector/events?wait=\(wait)"
        if let lastEventID { path += "&last_event_id=\(Self.percentEncoded(lastEventID))" }
        let response = try await send(
            .GET, path, token: token, headers: HTTPHeaders([("Accept", "application/json")]),
            deadline: .now() + TimeAmount(requestTimeout + .seconds(wait))
        )
        guard response.status == .ok else { throw await failure(response) }
        return try await decode(EventPoll.self, from: response)
    }

    // MARK: - Runs

    /// The runs waiting for an upload: `GET /v1/connector/work`.
    package func work(token: String) async throws -> ConnectorWork {
        let response = try await send(.GET, "/v1/connector/work", token: token)
        guard response.status == .ok else { throw await failure(response) }
        return try await decode(ConnectorWork.self, from: response)
    }

    /// Uploads one gzip-compressed page: `PUT /v1/connector/runs/{run}/pages/{page}`.
    ///
    /// - Parameter timeout: The deadline of this upload (a page may be megabytes).
    package func putPage(
        runID: String, page: Int, gzipped body: ByteBuffer, token: String, timeout: Duration = .seconds(120)
    ) async throws -> DirectoryPageReceipt {
        let headers = HTTPHeaders([("Content-Type", "application/json"), ("Content-Encoding", "gzip")])
        let response = try await send(
            .PUT, "/v1/connector/runs/\(Self.percentEncoded(runID))/pages/\(page)", token: token, headers: headers,
            body: body, deadline: .now() + TimeAmount(timeout)
        )
        guard response.status == .ok else { throw await failure(response) }
        return try await decode(DirectoryPageReceipt.self, from: response)
    }

    /// `POST /v1/connector/runs/{run}/complete`; the service answers `202` and merges the pages.
    package func complete(runID: String, _ completion: ConnectorRunCompletion, token: String) async throws {
        let response = try await send(.POST, "/v1/connector/runs/\(Self.percentEncoded(runID))/complete", token: token, json: completion)
        guard response.status == .accepted else { throw await failure(response) }
        _ = try await response.body.collect(upTo: Self.maximumAnswerBytes)
    }

    /// `POST /v1/connector/runs/{run}/fail` with what went wrong at the site.
    package func fail(runID: String, error: String, token: String) async throws {
        let body = ConnectorRunFailure(error: String(error.prefix(1000)))
        let response = try await send(.POST, "/v1/connector/runs/\(Self.percentEncoded(runID))/fail", token: token, json: body)
        guard response.status == .accepted else { throw await failure(response) }
        _ = try await response.body.collect(upTo: Self.maximumAnswerBytes)
    }

    // MARK: - Transport

    private func send(
        _ method: HTTPMethod, _ path: String, token: String?, headers: HTTPHeaders = [:],
        json: (some Encodable)? = nil as Never?, body: ByteBuffer? = nil, deadline: NIODeadline? = nil
    ) async throws -> HTTPClientResponse {
        var request = HTTPClientRequest(url: baseURL + path)
        request.method = method
        request.headers = headers
        request.headers.add(name: ConnectorProtocol.header, value: String(ConnectorProtocol.version))
        if let token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        if let json {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(data: try ConnectorJSON.encode(json)))
        } else if let body {
            request.body = .bytes(body)
        }
        return try await httpClient.execute(request, deadline: deadline ?? .now() + TimeAmount(requestTimeout), logger: logger)
    }

    private func decode<Answer: Decodable>(_ type: Answer.Type, from response: HTTPClientResponse) async throws -> Answer {
        let body = try await response.body.collect(upTo: Self.maximumAnswerBytes)
        do {
            return try ConnectorJSON.decoder().decode(type, from: Data(buffer: body))
        } catch {
            throw AgentError.invalidResponse("\(type) does not decode: \(error)")
        }
    }

    /// Reads an error answer into an ``AgentError``.
    private func failure(_ response: HTTPClientResponse) async -> AgentError {
        let body = try? await response.body.collect(upTo: Self.maximumAnswerBytes)
        let problem = body.flatMap { Problem.decode(from: Data(buffer: $0)) }
        let retryAfter = response.headers.first(name: "Retry-After").flatMap { AgentError.retryAfter($0, now: Date()) }
        logger.debug(
            "connector call refused",
            metadata: ["http.status": "\(response.status.code)", "problem.code": "\(problem?.code ?? "-")"]
        )
        return .status(Int(response.status.code), problem: problem, retryAfter: retryAfter)
    }

    static func mediaType(of response: HTTPClientResponse) -> String? {
        response.headers.first(name: "Content-Type").map {
            String($0.prefix { $0 != ";" }).trimmingCharacters(in: .whitespaces).lowercased()
        }
    }

    static func percentEncoded(_ value: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return value.addingPercentEncoding(withAllowedCharacters: allowed) ?? value
    }
}

/// The JSON form of the connector protocol: members sorted, dates as RFC 3339 UTC.
package enum ConnectorJSON {
    package static func encode(_ value: some Encodable) throws -> Data {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(value)
    }

    package static func decoder() -> JSONDecoder {
        let decoder = JSONDecoder()
        // The service writes fractional seconds in some answers; accept both forms.
        decoder.dateDecodingStrategy = .custom { decoder in
            let text = try decoder.singleValueContainer().decode(String.self)
            if let date = try? Date(text, strategy: .iso8601) { return date }
            if let date = try? Date(text, strategy: Date.ISO8601FormatStyle(includingFractionalSeconds: true)) {
                return date
            }
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "not an RFC 3339 date: \(text)"))
        }
        return decoder
    }
}

extension TimeAmount {
    init(_ duration: Duration) {
        let (seconds, attoseconds) = duration.components
        self = .nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }
}
