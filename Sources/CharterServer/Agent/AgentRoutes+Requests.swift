import CharterAgentWire
import CharterBundle
import CharterCore
import CharterServices
import CharterStore
import Foundation
import Hummingbird
import NIOCore

extension RequestSubmission {
    /// The validated submission; every failure names its field.
    func validated() throws -> RequestService.Submission {
        guard let kind = ElevationKind(rawValue: kind.rawValue) else {
            throw Problem(.validationFailed, "kind must be run_as_admin or admin_session.", field: "/kind")
        }
        let user = try user.deviceUser(field: "/user")
        let app = try application?.validated()
        if app == nil, kind == .runAsAdmin {
            throw Problem(.validationFailed, "A run_as_admin request names its application.", field: "/application")
        }
        if let reason, reason.count > 2000 {
            throw Problem(.validationFailed, "reason may have at most 2000 characters.", field: "/reason")
        }
        return RequestService.Submission(kind: kind, user: user, application: app, reason: reason)
    }
}

extension RequestSubmission.Application {
    /// The validated application; every failure names its field.
    func validated() throws -> ElevationRequest.Application {
        let fileName = try AgentValidation.text(fileName, field: "/application/file_name", maximum: 260)
        let path = try path.map { try AgentValidation.text($0, field: "/application/path", maximum: 32_767) }
        let digest = try sha256.map { raw in
            guard let digest = HexDigest.normalized(raw, lengths: [64]) else {
                throw Problem(.validationFailed, "sha256 must be 64 hexadecimal digits.", field: "/application/sha256")
            }
            return digest
        }
        let subject = try signerSubject.map {
            try AgentValidation.text($0, field: "/application/signer_subject", maximum: 1024)
        }
        let thumbprint = try certificateThumbprint.map {
            try AgentValidation.text($0, field: "/application/certificate_thumbprint", maximum: 200)
        }
        let vendor = try vendor.map { try AgentValidation.text($0, field: "/application/vendor", maximum: 500) }
        return ElevationRequest.Application(
            fileName: fileName, path: path, sha256: digest, signerSubject: subject, certificateThumbprint: thumbprint,
            vendor: vendor
        )
    }
}

extension AgentRoutes {
    func submitRequest(_ request: Request, context: AppRequestContext) async throws -> Response {
        let caller = try await authenticate(request, context: context)
        let submission = try await AgentJSON.decode(RequestSubmission.self, from: request, maximumBytes: maximumBodyBytes)
            .validated()
        let stored = try await requests.submit(
            submission, from: caller.device, of: caller.tenant, msp: caller.msp, logger: context.logger
        )
        return try AgentJSON.response(RequestAnswer(stored), status: .created)
    }

    /// `GET /v1/agent/requests/{id}`, with `wait` (0–60 s) to hold the answer while the request is pending.
    func readRequest(_ request: Request, context: AppRequestContext) async throws -> Response {
        let caller = try await authenticate(request, context: context)
        guard let rawID = context.parameters.get("id"), let id = UUID(uuidString: rawID) else {
            throw Problem(.malformedRequest, "The id must be a request id (UUID).", field: "id")
        }
        let wait = try Self.waitSeconds(request, absent: 0)
        let (requests, logger) = (requests, context.logger)
        let read = { @Sendable in
            try await requests.get(id, ofDevice: caller.device, tenant: caller.tenant, msp: caller.msp, logger: logger)
        }
        guard wait > 0 else { return try AgentJSON.response(RequestAnswer(try await read())) }
        // Subscribed before the first read, so a decision made in between is not missed.
        let stored = try await hub.withSubscription(device: caller.device, tenant: caller.tenant) { subscription in
            let stored = try await read()
            guard stored.status == .pending else { return stored }
            let requestID = id.uuidString.lowercased()
            let decided = await subscription.firstEvent(within: .seconds(wait)) { _, name, data in
                name == "decision" && data.contains(requestID)
            }
            return decided == nil ? stored : try await read()
        }
        return try AgentJSON.response(RequestAnswer(stored))
    }

}

extension RequestAnswer {
    /// The answer about a stored request (docs/agent-protocol.md, "Requests").
    init(_ request: StoredRequest) {
        let policy =
            switch request.source {
            case .global: "global"
            case .subsetting(_, let name): name
            }
        self.init(
            id: request.id.uuidString.lowercased(), kind: RequestKind(rawValue: request.kind.rawValue),
            status: Status(request.status), logged: request.isLogged, pinOverride: request.allowsPINOverride,
            explanation: request.decisionReason, policy: policy,
            sessionMinutes: request.sessionMinutes, expiresAt: request.expiresAt, decidedAt: request.decidedAt,
            comment: request.comment
        )
    }
}

extension RequestAnswer.Status {
    /// The status a stored request is sent with.
    init(_ status: StoredRequest.Status) {
        self =
            switch status {
            case .allowed: .allowed
            case .pending: .pending
            case .approved: .approved
            case .denied: .denied
            case .expired: .expired
            }
    }
}
