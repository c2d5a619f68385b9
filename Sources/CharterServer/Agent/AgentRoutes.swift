import CharterAgentWire
import CharterBundle
import CharterCore
import CharterServices
import CharterStore
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore

/// The agent API under `/v1/agent` (docs/agent-protocol.md), written by hand because it streams
/// server-sent events and serves `application/jose`; devices authenticate with their device token.
struct AgentRoutes: Sendable {
    /// How often agents check in.
    static let checkinSeconds = 300

    let database: Database
    let endpoints: EndpointService
    let hub: EventHub
    let drain: DrainState
    let maximumBodyBytes: Int
    /// The body of an enrollment, read before its token is checked (`http.enroll_max_body_bytes`).
    let enrollMaximumBodyBytes: Int
    /// Requests per device, tenant and enrollment token.
    let rateLimiter: RateLimiter
    /// Elevation requests: submitted and read by devices.
    let requests: RequestService
    let now: @Sendable () -> Date

    /// Where the routes are, and the event stream's path (answered from a child task, ``EventStreamResponder``).
    static let prefix = "v1/agent"
    static let eventsPath = "/\(prefix)/events"

    func register(on router: some RouterMethods<AppRequestContext>) {
        let group = router.group(RouterPath(Self.prefix))
        group.post("challenge") { request, context in try await challenge(request, context: context) }
        group.post("enroll") { request, context in try await enroll(request, context: context) }
        group.post("token") { request, context in try await renewToken(request, context: context) }
        group.get("bundle") { request, context in try await bundle(request, context: context) }
        group.get("events") { request, context in try await events(request, context: context) }
        // Retries of these carry an Idempotency-Key, owned by the device (docs/agent-protocol.md).
        let idempotent = group.group().add(
            middleware: IdempotencyMiddleware(
                database: database,
                owner: { request, context in
                    // The handler authenticates again and counts the request against the rate limits then.
                    let caller = try await identify(request, context: context)
                    return IdempotencyOwner(msp: caller.msp, tenant: caller.tenant, credential: caller.device.rawValue)
                },
                now: now
            )
        )
        idempotent.post("checkin") { request, context in try await checkin(request, context: context) }
        idempotent.post("audit") { request, context in try await audit(request, context: context) }
        idempotent.post("requests") { request, context in try await submitRequest(request, context: context) }
        group.get("requests/{id}") { request, context in try await readRequest(request, context: context) }
    }

    // MARK: - Authentication

    /// An authenticated device: who it is and the tenant its transactions are confined to.
    typealias Caller = EndpointService.AuthenticatedDevice

    /// The device a request's token names, counted against the device's and the tenant's rate limits (429).
    func authenticate(_ request: Request, context: AppRequestContext) async throws -> Caller {
        let caller = try await identify(request, context: context)
        try admit(.device(caller.device), .tenant(caller.tenant))
        return caller
    }

    /// The device a request's token names: 401 for an unknown, replaced or revoked token, 401 `token-expired` for
    /// an expired one, 403 `device-pending-approval` for a device an administrator has not approved.
    func identify(_ request: Request, context: AppRequestContext) async throws -> Caller {
        try await endpoints.identify(DeviceToken(authorization: request.headers[.authorization]), logger: context.logger)
    }

    /// Counts a request against the rate limits of its credential and its tenant (429).
    private func admit(_ credential: RateLimiter.Key, _ tenant: RateLimiter.Key) throws {
        do throws(RateLimiter.Limited) {
            try rateLimiter.admit(credential, tenant)
        } catch {
            throw Problem(limited: error)
        }
    }

    /// Where the request came from, for audit events.
    private func origin(_ context: AppRequestContext) -> EndpointService.Origin {
        EndpointService.Origin(
            requestID: context.requestID, clientIP: context.remoteAddress?.ipAddress, logger: context.logger
        )
    }

    // MARK: - Challenges and token renewal

    /// `POST /v1/agent/challenge`: a single-use nonce for a device to sign (renewal, re-enrollment proof).
    /// Minted without touching the database (``ServerChallenges``).
    private func challenge(_ request: Request, context: AppRequestContext) async throws -> Response {
        let (nonce, expiresAt) = try endpoints.issueChallenge()
        return try AgentJSON.response(Challenge(nonce: nonce, expiresAt: expiresAt))
    }

    /// `POST /v1/agent/token`: a new device token for a signature by the device key over a challenge.
    private func renewToken(_ request: Request, context: AppRequestContext) async throws -> Response {
        let body = try await AgentJSON.decode(SignedChallenge.self, from: request, maximumBytes: maximumBodyBytes)
        let (token, expiresAt) = try await endpoints.renewToken(
            device: body.deviceID, nonce: body.nonce, signature: body.signature, logger: context.logger
        )
        return try AgentJSON.response(DeviceTokenRenewal(deviceToken: token, tokenExpiresAt: expiresAt))
    }

    // MARK: - Enrollment

    /// `POST /v1/agent/enroll`: 201 for a new device, 202 for one waiting for approval, 200 for a re-enrollment.
    private func enroll(_ request: Request, context: AppRequestContext) async throws -> Response {
        _ = try endpoints.requireKeys()
        let body = try await AgentJSON.decode(EnrollRequest.self, from: request, maximumBytes: enrollMaximumBodyBytes)
        let enrollment = try body.validated()
        let enrolled = try await endpoints.enroll(enrollment, from: origin(context)) { tenant in
            try admit(.enrollmentToken(enrollment.secret.id), .tenant(tenant))
        }
        let status: HTTPResponse.Status =
            enrolled.isReenrollment ? .ok : enrolled.device.isPendingApproval ? .accepted : .created
        return try AgentJSON.response(EnrollAnswer(enrolled), status: status)
    }

    // MARK: - Bundle

    /// `GET /v1/agent/bundle`: the device's current bundle as `application/jose`, or 304 when `If-None-Match`
    /// names it.
    private func bundle(_ request: Request, context: AppRequestContext) async throws -> Response {
        _ = try endpoints.requireKeys()
        let caller = try await authenticate(request, context: context)
        let bundle = try await endpoints.currentBundle(for: caller, logger: context.logger)
        let etag = bundle.etag
        var headers: HTTPFields = [.eTag: etag, .cacheControl: "no-store"]
        headers[HTTPField.Name("Charter-Bundle-Version")!] = String(bundle.version)
        if let match = request.headers[.ifNoneMatch], Self.matches(match, etag) {
            return Response(status: .notModified, headers: headers)
        }
        headers[.contentType] = BundleIssuer.mediaType
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: bundle.compact)))
    }

    /// Whether an `If-None-Match` list names `etag` (weak comparison, RFC 9110 §13.1.2).
    static func matches(_ header: String, _ etag: String) -> Bool {
        header.split(separator: ",").contains { candidate in
            let tag = candidate.trimmingCharacters(in: .whitespaces)
            return tag == "*" || tag == etag || tag == "W/" + etag
        }
    }

    // MARK: - Check-in and audit

    /// `POST /v1/agent/checkin`: the agent's version, the bundle it holds and the users logged on.
    private func checkin(_ request: Request, context: AppRequestContext) async throws -> Response {
        let caller = try await authenticate(request, context: context)
        let body = try await AgentJSON.decode(CheckinRequest.self, from: request, maximumBytes: maximumBodyBytes)
        let users = try body.validated()
        let version = try await endpoints.checkIn(
            caller, agentVersion: body.agentVersion, heldVersion: body.bundleVersion, users: users, logger: context.logger
        )
        return try AgentJSON.response(
            CheckinResult(deviceID: caller.device.description, bundleVersion: version, checkinSeconds: Self.checkinSeconds)
        )
    }

    /// `POST /v1/agent/audit`: endpoint events for the tenant's audit log; retried events count as duplicates.
    private func audit(_ request: Request, context: AppRequestContext) async throws -> Response {
        let caller = try await authenticate(request, context: context)
        let body = try await AgentJSON.decode(AuditUpload.self, from: request, maximumBytes: maximumBodyBytes)
        let accepted = try await endpoints.recordEvents(try body.validated(), from: caller, origin: origin(context))
        return try AgentJSON.response(AuditResult(accepted: accepted, duplicates: body.events.count - accepted))
    }
}
