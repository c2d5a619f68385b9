public import AsyncHTTPClient
internal import CharterBundle
public import Crypto
internal import Foundation
public import Logging
internal import NIOCore
internal import NIOFoundationCompat
internal import NIOHTTP1

/// The agent side of every call of docs/agent-protocol.md, over an `HTTPClient` the caller owns.
///
/// A client without a device token can only enroll; ``authenticated(with:)`` returns one that
/// sends `Authorization: Bearer chtd_…`. Calls throw ``AgentError`` for an error status or an
/// answer that breaks the protocol, and the `HTTPClient`'s errors for transport failures.
///
/// ```swift
/// let client = AgentClient(httpClient: .shared, baseURL: "http://127.0.0.1:8080")
/// let enrollment = try await client.enroll(token: enrollmentToken, hostname: "WS-0042")
/// let device = client.authenticated(with: enrollment)
/// let fetch = try await device.fetchBundle(ifNoneMatch: nil)
/// ```
public struct AgentClient: Sendable {
    /// The HTTP client; the caller owns it and shuts it down.
    public let httpClient: HTTPClient
    /// The service's base URL, without a trailing slash (`http://host:port`).
    public let baseURL: String
    /// The device token, or `nil` before enrollment.
    public let deviceToken: String?
    /// The deadline of a call other than the event stream and a long poll.
    public var requestTimeout: Duration
    /// The logger for request failures (never logs tokens or bundles).
    public var logger: Logger

    /// The version this agent reports.
    public static let agentVersion = "1.0.0"
    /// The largest answer body read, except a bundle.
    static let maximumAnswerBytes = 1 << 20
    /// The largest bundle read.
    static let maximumBundleBytes = 16 << 20

    /// Creates a client.
    ///
    /// - Parameters:
    ///   - httpClient: The HTTP client to send requests with.
    ///   - baseURL: The service's base URL, such as `http://127.0.0.1:8080`.
    ///   - deviceToken: The device token, or `nil` before enrollment.
    ///   - requestTimeout: The deadline of ordinary calls.
    ///   - logger: The logger.
    public init(
        httpClient: HTTPClient,
        baseURL: String,
        deviceToken: String? = nil,
        requestTimeout: Duration = .seconds(30),
        logger: Logger = Logger(label: "charter.agent")
    ) {
        self.httpClient = httpClient
        var baseURL = baseURL
        while baseURL.hasSuffix("/") {
            baseURL.removeLast()
        }
        self.baseURL = baseURL
        self.deviceToken = deviceToken
        self.requestTimeout = requestTimeout
        self.logger = logger
    }

    /// A client that authenticates as the enrolled device.
    ///
    /// - Parameter enrollment: The enrollment whose device token to send.
    /// - Returns: A copy of this client with the device token.
    public func authenticated(with enrollment: Enrollment) -> AgentClient {
        authenticated(withToken: enrollment.deviceToken)
    }

    /// A client that sends a given device token (or none).
    ///
    /// - Parameter token: The device token, or `nil` to send no `Authorization`.
    /// - Returns: A copy of this client with the token.
    public func authenticated(withToken token: String?) -> AgentClient {
        var client = AgentClient(httpClient: httpClient, baseURL: baseURL, deviceToken: token, logger: logger)
        client.requestTimeout = requestTimeout
        return client
    }

    // MARK: - Enrollment

    /// Enrolls a device: `POST /v1/agent/enroll` with the public halves of the given key pairs.
    ///
    /// - Parameters:
    ///   - token: The enrollment token (`chte_…`).
    ///   - hostname: The computer's host name.
    ///   - agentVersion: The agent's version.
    ///   - computerSID: The computer account's SID, when known.
    ///   - computerGUID: The computer account's objectGUID, when known.
    ///   - os: The operating system, when known.
    ///   - encryptionKey: The X25519 key pair; a new one by default.
    ///   - signingKey: The Ed25519 key pair; a new one by default.
    ///   - current: The device's current enrollment, to re-enroll it: a challenge signed with its signing key
    ///     proves the device holds it. Without it, a computer another device stands for gets a device that
    ///     waits for approval (`202`).
    /// - Returns: The enrollment, with the private keys.
    /// - Throws: ``AgentError`` (`401` for a refused token, `422` for a refused key or proof) or a transport error.
    public func enroll(
        token: String,
        hostname: String,
        agentVersion: String = agentVersion,
        computerSID: String? = nil,
        computerGUID: String? = nil,
        os: String? = nil,
        encryptionKey: Curve25519.KeyAgreement.PrivateKey = .init(),
        signingKey: Curve25519.Signing.PrivateKey = .init(),
        provingWith current: Enrollment? = nil
    ) async throws -> Enrollment {
        var proof: SignedChallenge?
        if let current {
            let challenge = try await challenge()
            let message = DeviceProof.reenrollmentMessage(
                nonce: challenge.nonce, deviceID: current.deviceID,
                encryptionKey: encryptionKey.publicKey.rawRepresentation, signingKey: signingKey.publicKey.rawRepresentation
            )
            proof = SignedChallenge(
                deviceID: current.deviceID, nonce: challenge.nonce,
                signature: Base64URL.encode(try current.signingKey.signature(for: message))
            )
        }
        let body = EnrollRequest(
            enrollmentToken: token,
            hostname: hostname,
            computerSID: computerSID,
            computerGUID: computerGUID,
            os: os,
            agentVersion: agentVersion,
            encryptionKey: try Self.publicJWK(curve: .x25519, x: encryptionKey.publicKey.rawRepresentation, use: .encryption),
            signingKey: try Self.publicJWK(curve: .ed25519, x: signingKey.publicKey.rawRepresentation, use: .signature),
            proof: proof
        )
        let response = try await send(.POST, "/v1/agent/enroll", json: body, authenticated: false)
        guard response.status == .created || response.status == .ok || response.status == .accepted else {
            throw await failure(response)
        }
        let answer = try await decode(EnrollAnswer.self, from: response)
        return Enrollment(
            deviceID: answer.deviceID,
            deviceToken: answer.deviceToken,
            tokenExpiresAt: answer.tokenExpiresAt,
            tenantID: answer.tenantID,
            issuer: answer.issuer,
            signingKeys: try answer.signingKeys.pinnedKeys(),
            computer: answer.computer,
            isReenrollment: response.status == .ok,
            isPendingApproval: response.status == .accepted,
            encryptionKey: encryptionKey,
            signingKey: signingKey
        )
    }

    // MARK: - Challenges and device tokens

    /// Asks for a single-use challenge to sign: `POST /v1/agent/challenge`.
    ///
    /// - Returns: The nonce and when it expires.
    /// - Throws: ``AgentError`` or a transport error.
    public func challenge() async throws -> Challenge {
        let response = try await send(.POST, "/v1/agent/challenge", authenticated: false)
        guard response.status == .ok else {
            throw await failure(response)
        }
        return try await decode(Challenge.self, from: response)
    }

    /// Renews a device token with a signature by the device key: `POST /v1/agent/challenge`, then
    /// `POST /v1/agent/token`. The token it replaces keeps working until its own expiry.
    ///
    /// - Parameters:
    ///   - deviceID: The device id.
    ///   - signingKey: The device's Ed25519 private key.
    /// - Returns: The new token and its expiry.
    /// - Throws: ``AgentError`` (`401` for a revoked device or a refused signature) or a transport error.
    public func renewToken(deviceID: String, signingKey: Curve25519.Signing.PrivateKey) async throws -> DeviceTokenRenewal {
        let challenge = try await challenge()
        let message = DeviceProof.renewalMessage(nonce: challenge.nonce, deviceID: deviceID)
        let body = SignedChallenge(
            deviceID: deviceID, nonce: challenge.nonce, signature: Base64URL.encode(try signingKey.signature(for: message))
        )
        let response = try await send(.POST, "/v1/agent/token", json: body, authenticated: false)
        guard response.status == .ok else {
            throw await failure(response)
        }
        return try await decode(DeviceTokenRenewal.self, from: response)
    }

    // MARK: - Bundle

    /// Fetches the device's current bundle: `GET /v1/agent/bundle`.
    ///
    /// - Parameter etag: The ETag of the bundle held, sent as `If-None-Match`, or `nil`.
    /// - Returns: `.notModified` for a `304`, else the bundle with its ETag and version.
    /// - Throws: ``AgentError`` or a transport error.
    public func fetchBundle(ifNoneMatch etag: String?) async throws -> BundleFetch {
        var headers = HTTPHeaders([("Accept", BundleIssuer.mediaType)])
        if let etag {
            headers.add(name: "If-None-Match", value: etag)
        }
        let response = try await send(.GET, "/v1/agent/bundle", headers: headers)
        switch response.status {
        case .notModified:
            _ = try await response.body.collect(upTo: Self.maximumAnswerBytes)
            return .notModified(etag: response.headers.first(name: "ETag"))
        case .ok:
            let body = try await response.body.collect(upTo: Self.maximumBundleBytes)
            guard Self.mediaType(of: response) == BundleIssuer.mediaType else {
                throw AgentError.invalidResponse("bundle Content-Type is not \(BundleIssuer.mediaType)")
            }
            guard let etag = response.headers.first(name: "ETag") else {
                throw AgentError.invalidResponse("bundle answer without ETag")
            }
            let version = response.headers.first(name: "Charter-Bundle-Version").flatMap { Int64($0) }
            let compact = String(decoding: body.readableBytesView, as: UTF8.self)
                .trimmingCharacters(in: .whitespacesAndNewlines)
            return .bundle(compact: compact, etag: etag, version: version)
        default:
            throw await failure(response)
        }
    }

    // MARK: - Check-in and audit

    /// Reports the agent's state: `POST /v1/agent/checkin`.
    ///
    /// - Parameters:
    ///   - agentVersion: The agent's version.
    ///   - bundleVersion: The version of the bundle held, or `nil` before the first.
    ///   - users: The users logged on now (at most 200).
    /// - Returns: The service's answer.
    /// - Throws: ``AgentError`` or a transport error.
    public func checkin(
        agentVersion: String = agentVersion,
        bundleVersion: Int64?,
        users: [CheckinUser] = []
    ) async throws -> CheckinResult {
        let body = CheckinRequest(agentVersion: agentVersion, bundleVersion: bundleVersion, users: users)
        let response = try await send(.POST, "/v1/agent/checkin", json: body)
        guard response.status == .ok else {
            throw await failure(response)
        }
        return try await decode(CheckinResult.self, from: response)
    }

    /// Sends endpoint audit events: `POST /v1/agent/audit`.
    ///
    /// - Parameter events: 1 to 500 events; resending one that was accepted is harmless.
    /// - Returns: How many were new and how many duplicates.
    /// - Throws: ``AgentError`` or a transport error.
    public func sendAudit(events: [AuditEvent]) async throws -> AuditResult {
        let response = try await send(.POST, "/v1/agent/audit", json: AuditUpload(events: events))
        guard response.status == .ok else {
            throw await failure(response)
        }
        return try await decode(AuditResult.self, from: response)
    }

    // MARK: - Requests

    /// Asks for elevation: `POST /v1/agent/requests`. The service decides at once by the effective policy.
    ///
    /// - Parameter request: The request.
    /// - Returns: The request with its decision; wait for a `pending` one's `decision` event or long-poll
    ///   it with ``readRequest(id:wait:)``.
    /// - Throws: ``AgentError`` (`422` with field `/reason` when the policy needs a reason) or a transport error.
    public func submitRequest(_ request: ElevationRequest) async throws -> ElevationRequest.Answer {
        let response = try await send(.POST, "/v1/agent/requests", json: request)
        guard response.status == .created else {
            throw await failure(response)
        }
        return try await decode(ElevationRequest.Answer.self, from: response)
    }

    /// Reads one of this device's requests: `GET /v1/agent/requests/{id}`, optionally held while it is pending.
    ///
    /// - Parameters:
    ///   - id: The request id.
    ///   - wait: How long the service may hold a pending request, 0–60 seconds, or `nil` to answer at once.
    /// - Returns: The request; still `pending` when `wait` ran out.
    /// - Throws: ``AgentError`` (`404` for another device's request) or a transport error.
    public func readRequest(id: String, wait: Int? = nil) async throws -> ElevationRequest.Answer {
        let path = "/v1/agent/requests/\(Self.percentEncoded(id))" + (wait.map { "?wait=\($0)" } ?? "")
        let response = try await send(.GET, path, deadline: .now() + TimeAmount(requestTimeout + .seconds(wait ?? 0)))
        guard response.status == .ok else {
            throw await failure(response)
        }
        return try await decode(ElevationRequest.Answer.self, from: response)
    }

    // MARK: - Events

    /// Opens the event stream: `GET /v1/agent/events` with `Accept: text/event-stream`.
    ///
    /// The request has no deadline; iterate the stream to read events, and cancel the iterating
    /// task (or let the service close it) to end it.
    ///
    /// - Parameter lastEventID: The last event id seen, sent as `Last-Event-ID` to replay missed events.
    /// - Returns: The open stream.
    /// - Throws: ``AgentError`` when the service does not answer `200 text/event-stream`, or a transport error.
    public func events(lastEventID: String?) async throws -> ServerSentEventStream {
        var headers = HTTPHeaders([("Accept", "text/event-stream")])
        if let lastEventID {
            headers.add(name: "Last-Event-ID", value: lastEventID)
        }
        let response = try await send(.GET, "/v1/agent/events", headers: headers, deadline: .distantFuture)
        guard response.status == .ok else {
            throw await failure(response)
        }
        guard Self.mediaType(of: response) == "text/event-stream" else {
            throw AgentError.invalidResponse("event stream Content-Type is not text/event-stream")
        }
        return ServerSentEventStream(body: response.body, lastEventID: lastEventID)
    }

    /// Long-polls for events: `GET /v1/agent/events?wait=…&last_event_id=…` with `Accept: application/json`.
    ///
    /// - Parameters:
    ///   - lastEventID: The `last_event_id` of the previous poll, or `nil` for the first.
    ///   - wait: How long the service may hold the request, 0–60 seconds, or `nil` for its default (25).
    /// - Returns: The events and the position to send next time.
    /// - Throws: ``AgentError`` or a transport error.
    public func pollEvents(lastEventID: String?, wait: Int? = nil) async throws -> EventPoll {
        var query: [String] = []
        if let wait {
            query.append("wait=\(wait)")
        }
        if let lastEventID {
            query.append("last_event_id=\(Self.percentEncoded(lastEventID))")
        }
        let path = "/v1/agent/events" + (query.isEmpty ? "" : "?" + query.joined(separator: "&"))
        // The service holds the request up to `wait` seconds (default 25): allow for that on top.
        let timeout = requestTimeout + .seconds(wait ?? 25)
        let response = try await send(
            .GET,
            path,
            headers: HTTPHeaders([("Accept", "application/json")]),
            deadline: .now() + TimeAmount(timeout)
        )
        guard response.status == .ok else {
            throw await failure(response)
        }
        return try await decode(EventPoll.self, from: response)
    }

    // MARK: - Transport

    private func send(
        _ method: HTTPMethod,
        _ path: String,
        headers: HTTPHeaders = [:],
        json body: (some Encodable)? = nil as Never?,
        authenticated: Bool = true,
        deadline: NIODeadline? = nil
    ) async throws -> HTTPClientResponse {
        var request = HTTPClientRequest(url: baseURL + path)
        request.method = method
        request.headers = headers
        if authenticated, let deviceToken {
            request.headers.add(name: "Authorization", value: "Bearer \(deviceToken)")
        }
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(data: try Self.encode(body)))
        }
        return try await httpClient.execute(
            request,
            deadline: deadline ?? .now() + TimeAmount(requestTimeout),
            logger: logger
        )
    }

    private func decode<Answer: Decodable>(_ type: Answer.Type, from response: HTTPClientResponse) async throws -> Answer {
        let body = try await response.body.collect(upTo: Self.maximumAnswerBytes)
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        do {
            return try decoder.decode(type, from: Data(buffer: body))
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
            "agent call refused",
            metadata: ["http.status": "\(response.status.code)", "problem.type": "\(problem?.type ?? "-")"]
        )
        return .status(Int(response.status.code), problem: problem, retryAfter: retryAfter)
    }

    /// The media type of an answer, lowercased, without parameters.
    static func mediaType(of response: HTTPClientResponse) -> String? {
        response.headers.first(name: "Content-Type").map {
            String($0.prefix { $0 != ";" }).trimmingCharacters(in: .whitespaces).lowercased()
        }
    }

    private static func percentEncoded(_ value: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return value.addingPercentEncoding(withAllowedCharacters: allowed) ?? value
    }
}

extension TimeAmount {
    init(_ duration: Duration) {
        let (seconds, attoseconds) = duration.components
        self = .nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }
}
