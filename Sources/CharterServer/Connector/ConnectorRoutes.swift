import CharterAgentWire
import CharterCore
import CharterServices
import CharterStore
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// The connector API's identity, heartbeat and command routes under `/v1/connector` (docs/connector-protocol.md,
/// "Identity", "Heartbeat", "Commands"), written by hand as the agent routes are.
///
/// The data routes (work, pages, completion) are registered by their own type with the same
/// ``ConnectorAuthenticator``.
struct ConnectorRoutes: Sendable {
    let connectors: ConnectorService
    let authenticator: ConnectorAuthenticator
    let hub: EventHub
    let drain: DrainState
    let maximumBodyBytes: Int
    /// The body of an enrollment, read before its token is checked (`http.enroll_max_body_bytes`).
    let enrollMaximumBodyBytes: Int
    let rateLimiter: RateLimiter

    /// Where the routes are, and the command stream's path (answered from a child task, ``EventStreamResponder``).
    static let prefix = "v1/connector"
    static let eventsPath = "/\(prefix)/events"

    func register(on router: some RouterMethods<AppRequestContext>) {
        let group = router.group(RouterPath(Self.prefix))
        group.post("challenge") { request, context in try challenge(request, context: context) }
        group.post("enroll") { request, context in try await enroll(request, context: context) }
        group.post("token") { request, context in try await renewToken(request, context: context) }
        group.post("heartbeat") { request, context in try await heartbeat(request, context: context) }
        group.get("events") { request, context in try await events(request, context: context) }
    }

    /// Where the request came from, for audit events.
    func origin(_ context: AppRequestContext) -> EndpointService.Origin {
        EndpointService.Origin(
            requestID: context.requestID, clientIP: context.remoteAddress?.ipAddress, logger: context.logger
        )
    }

    /// The protocol range and heartbeat interval every answer that carries them announces.
    var protocolRange: ConnectorProtocolRange { ConnectorAuthenticator.protocolRange }

    // MARK: - Challenges and token renewal

    /// `POST /v1/connector/challenge`: a single-use nonce for a connector to sign (renewal, re-enrollment proof).
    /// Answered whatever protocol version the connector speaks, so that an outdated one can still renew.
    private func challenge(_ request: Request, context: AppRequestContext) throws -> Response {
        let (nonce, expiresAt) = try connectors.issueChallenge()
        return try AgentJSON.response(Challenge(nonce: nonce, expiresAt: expiresAt))
    }

    /// `POST /v1/connector/token`: a new connector token for a signature by the connector's key over a challenge.
    private func renewToken(_ request: Request, context: AppRequestContext) async throws -> Response {
        let body = try await AgentJSON.decode(ConnectorSignedChallenge.self, from: request, maximumBytes: maximumBodyBytes)
        let (token, expiresAt) = try await connectors.renewToken(
            connector: body.connectorID, nonce: body.nonce, signature: body.signature, logger: context.logger
        )
        return try AgentJSON.response(ConnectorTokenRenewal(connectorToken: token, tokenExpiresAt: expiresAt))
    }

    // MARK: - Enrollment

    /// `POST /v1/connector/enroll`: 201 for a new connector, 200 for a re-enrollment.
    private func enroll(_ request: Request, context: AppRequestContext) async throws -> Response {
        let version = try authenticator.protocolVersion(of: request)
        let body = try await AgentJSON.decode(
            ConnectorEnrollRequest.self, from: request, maximumBytes: enrollMaximumBodyBytes
        )
        let enrollment = try body.validated(protocolVersion: version)
        let enrolled = try await connectors.enroll(enrollment, from: origin(context)) { tenant in
            do throws(RateLimiter.Limited) {
                try rateLimiter.admit(.enrollmentToken(enrollment.secret.id), .tenant(tenant))
            } catch {
                throw Problem(limited: error)
            }
        }
        let answer = ConnectorEnrollment(
            connectorID: enrolled.connector.id.description, connectorToken: enrolled.token,
            tokenExpiresAt: enrolled.connector.tokenExpiresAt, tenantID: enrolled.tenant.description,
            protocol: protocolRange, heartbeatSeconds: connectors.limits.heartbeatSeconds
        )
        return try AgentJSON.response(answer, status: enrolled.isReenrollment ? .ok : .created)
    }

    // MARK: - Heartbeat

    /// `POST /v1/connector/heartbeat`: records what the connector found and answers the connections it serves.
    private func heartbeat(_ request: Request, context: AppRequestContext) async throws -> Response {
        let connector = try await authenticator.authenticate(request, context: context)
        let body = try await AgentJSON.decode(ConnectorHeartbeat.self, from: request, maximumBytes: maximumBodyBytes)
        let (hostname, version, domainControllers) = try body.validated()
        let assignments = try await connectors.heartbeat(
            connector, hostname: hostname, version: version, domainControllers: domainControllers,
            from: origin(context)
        )
        return try AgentJSON.response(
            ConnectorHeartbeatAnswer(
                connections: assignments.map(ConnectorAssignment.init), heartbeatSeconds: connectors.limits.heartbeatSeconds,
                protocol: protocolRange
            )
        )
    }
}
