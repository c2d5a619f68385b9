import CharterCore
import CharterServices
package import CharterStore
package import Foundation
package import Logging
import ServiceLifecycle

/// Decides elevation requests as they arrive, records approvers' decisions and expiries, and tells the
/// device (a `decision` hint) and the audit log.
enum RequestDecisions {
    /// A request as the agent sent it, validated.
    struct Submission: Sendable {
        var kind: ElevationKind
        var user: DeviceUser
        var application: ElevationRequest.Application?
        var reason: String?
    }

    /// Decides `submission` from `device` under the effective policy of its user on its computer now, and
    /// stores it (and, when logged, audits it).
    ///
    /// - Parameter emailsApprovers: Whether SMTP is configured: a pending request then queues an email to the
    ///   policy's `approval.notify_emails`.
    /// - Throws: ``Problem`` (422 naming `/reason`) when the policy needs a reason and none was given.
    static func submit(
        _ submission: Submission, from device: Device, of tenant: TenantID, in tx: Transaction, now: Date,
        emailsApprovers: Bool
    ) async throws -> StoredRequest {
        let matched = try await tx.devices.directoryUsers(tenant, matching: [submission.user]).first?.guid
        let computer = device.computer
        let global = try await tx.settings.get(tenant).settings
        let subsettings = try await tx.subsettings.list(tenant).map(\.subsetting)
        let facts = try await tx.policyFacts.facts(about: [computer, matched].compactMap { $0 }, in: tenant)
        let policy = PolicyResolver(global: global, subsettings: subsettings).resolve(for: matched, on: computer, in: facts)
        let request = ElevationRequest(
            kind: submission.kind, user: matched, application: submission.application, reason: submission.reason
        )
        var lastApproval: Date?
        if submission.kind == .runAsAdmin, let matched, let application = submission.application {
            lastApproval = try await tx.requests.lastApproval(device: device.id, user: matched, application: application)
        }
        let decision = RequestDecision.decide(request, under: policy, at: now, lastApproval: lastApproval)
        let status: StoredRequest.Status
        var isLogged = true
        var allowsPINOverride = false
        var expiresAt: Date?
        switch decision.outcome {
        case .allowed(let logged):
            status = .allowed
            isLogged = logged
        case .pending(let expiry):
            status = .pending
            expiresAt = expiry
        case .denied(let pin):
            status = .denied
            allowsPINOverride = pin
        case .rejected(.reasonMissing):
            throw Problem(
                .validationFailed, "The policy for this user and computer requires a reason; ask the user for one and send the request again.",
                field: "/reason"
            )
        }
        let isServer = device.os?.localizedCaseInsensitiveContains("server") ?? false
        let stored = StoredRequest(
            id: UUID(), tenant: tenant, device: device.id, kind: submission.kind, userSID: submission.user.sid,
            userGUID: submission.user.guid, userUPN: submission.user.upn, directoryUser: matched, computer: computer,
            hostname: device.hostname, application: submission.application, reason: submission.reason, status: status,
            isLogged: isLogged, allowsPINOverride: allowsPINOverride, source: decision.decidedBy,
            decisionReason: explanation(decision.reason),
            sessionMinutes: submission.kind == .adminSession
                ? (isServer ? policy.settings.adminSession.serverDurationMinutes : policy.settings.adminSession.workstationDurationMinutes)
                : nil,
            createdAt: now, expiresAt: expiresAt, decidedAt: status == .pending ? nil : now
        )
        try await tx.requests.create(stored)
        try await tx.webhooks.enqueue(
            tenant, event: Webhooks.created, payload: stored.webhookPayload(event: Webhooks.created, at: now), at: now
        )
        if emailsApprovers, status == .pending {
            try await email(.pending, about: stored, to: policy.settings.approval.notifyEmails, in: tx, at: now)
        }
        if isLogged {
            try await tx.audit.append(
                AuditRecord(
                    occurredAt: now,
                    actor: AuditRecord.Actor(id: device.id.rawValue, name: "device \(device.hostname)"),
                    action: "request.\(status == .pending ? "submitted" : status.rawValue)",
                    targetType: "request", targetID: stored.id.uuidString.lowercased(), after: stored.auditSnapshot
                ),
                to: .tenant(tenant)
            )
        }
        return stored
    }

    static func explanation(_ reason: RequestDecision.Reason) -> String {
        switch reason {
        case .preApproved(let index, let fileName): "pre-approved application \(fileName) (entry \(index))"
        case .mode(let mode): "mode \(mode.rawValue)"
        case .approvalStillValid(let approvedAt): "approved at \(approvedAt.ISO8601Format()) and still valid"
        }
    }

    /// Records an approver's decision on a pending request, audits it and hints the device.
    ///
    /// - Throws: ``Problem`` (409) when the request is no longer pending.
    static func decide(
        _ id: UUID, approve: Bool, comment: String?, scope: RequestScope, tenant: TenantID, in tx: Transaction, now: Date
    ) async throws -> StoredRequest {
        let before = try await tx.requests.get(id)
        guard
            let decided = try await tx.requests.decide(
                id, status: approve ? .approved : .denied, by: scope.principal.id.rawValue, name: scope.principal.name,
                comment: comment, at: now
            )
        else {
            throw Problem(.conflict, "The request is \(before.status == .pending ? "expired" : before.status.rawValue) already; it cannot be decided again.")
        }
        try await tx.webhooks.enqueue(
            tenant, event: Webhooks.decided, payload: decided.webhookPayload(event: Webhooks.decided, at: now), at: now
        )
        // The audit append locks the tenant's chain and the hint the change feed, both until the commit: take
        // them last, so that concurrent decisions wait for as few round trips as possible.
        try await tx.audit.append(
            AuditRecord(
                occurredAt: now, actor: scope.actor, action: "request.\(decided.status.rawValue)", targetType: "request",
                targetID: id.uuidString.lowercased(), before: before.auditSnapshot, after: decided.auditSnapshot
            ),
            to: .tenant(tenant)
        )
        try await hint(decided, in: tx)
        return decided
    }

    /// Queues the email about `event` of `request` to `recipients`, when there are any, in the transaction that
    /// records the event (an outbox: the email is never lost, and never sent for a change that rolled back).
    static func email(
        _ event: EmailNotification.Event, about request: StoredRequest, to recipients: [String], in tx: Transaction,
        at now: Date
    ) async throws {
        guard !recipients.isEmpty else { return }
        let tenantName = try await tx.tenants.get(request.tenant).name
        try await tx.email.enqueue(
            ApprovalEmail.notification(event, about: request, tenantName: tenantName, recipients: recipients, at: now),
            in: request.tenant
        )
    }

    /// Appends the `decision` hint for the request's device; call it last in the transaction (see
    /// ``ChangeFeedRepository/append(_:event:devices:data:)``).
    static func hint(_ request: StoredRequest, in tx: Transaction) async throws {
        let data = #"{"request_id":"\#(request.id.uuidString.lowercased())","status":"\#(request.status.rawValue)"}"#
        try await tx.changeFeed.append(request.tenant, event: .decision, devices: [request.device], data: data)
    }
}

/// Expires pending requests past their policy's lifetime. Every replica runs it; the conditional update
/// lets exactly one of them expire each request, audit it and hint the device.
package struct RequestExpiryService: Service {
    let database: Database
    let interval: Duration
    /// Whether SMTP is configured: the addresses emailed about a pending request then hear that it expired.
    let emailsApprovers: Bool
    let logger: Logger

    package init(database: Database, interval: Duration, emailsApprovers: Bool, logger: Logger) {
        self.database = database
        self.interval = interval
        self.emailsApprovers = emailsApprovers
        self.logger = logger
    }

    package func run() async throws {
        try? await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                try await Task.sleep(for: interval)
                do {
                    try await expireDue(now: Date())
                } catch {
                    logger.warning("could not expire requests", metadata: ["error": "\(error)"])
                }
            }
        }
    }

    package func expireDue(now: Date) async throws {
        let tenants = try await database.readWithoutTenant(logger: logger) { tx in
            try await tx.requests.tenantsWithExpiredRequests()
        }
        for (tenant, msp) in tenants {
            try await database.withTenant(tenant, msp: msp, logger: logger) { tx in
                let expired = try await tx.requests.expire(tenant, at: now)
                for request in expired {
                    try await tx.webhooks.enqueue(
                        tenant, event: Webhooks.expired, payload: request.webhookPayload(event: Webhooks.expired, at: now),
                        at: now
                    )
                    if emailsApprovers {
                        let recipients = try await tx.email.recipients(of: request.id, event: .pending)
                        try await RequestDecisions.email(.expired, about: request, to: recipients, in: tx, at: now)
                    }
                    try await tx.audit.append(
                        AuditRecord(
                            occurredAt: now, actor: .system, action: "request.expired", targetType: "request",
                            targetID: request.id.uuidString.lowercased(), after: request.auditSnapshot
                        ),
                        to: .tenant(tenant)
                    )
                }
                for request in expired {
                    try await RequestDecisions.hint(request, in: tx)
                }
            }
        }
    }
}

extension StoredRequest {
    /// What the audit log keeps of a request.
    var auditSnapshot: String {
        AuditJSON.encode(snapshotObject)
    }

    /// The request as a JSON object (audit snapshots, webhook payloads).
    var snapshotObject: [String: any Sendable] {
        var snapshot: [String: any Sendable] = [
            "id": id.uuidString.lowercased(), "device_id": device.description, "hostname": hostname,
            "kind": kind.rawValue, "status": status.rawValue, "explanation": decisionReason, "logged": isLogged,
        ]
        if let userSID { snapshot["user_sid"] = userSID }
        if let userUPN { snapshot["user_upn"] = userUPN }
        if let directoryUser { snapshot["directory_user_guid"] = directoryUser.description }
        if let application {
            var app: [String: any Sendable] = ["file_name": application.fileName]
            if let path = application.path { app["path"] = path }
            if let sha256 = application.sha256 { app["sha256"] = sha256 }
            if let subject = application.signerSubject { app["signer_subject"] = subject }
            if let thumbprint = application.certificateThumbprint { app["certificate_thumbprint"] = thumbprint }
            if let vendor = application.vendor { app["vendor"] = vendor }
            snapshot["application"] = app
        }
        if let reason { snapshot["reason"] = reason }
        switch source {
        case .global: snapshot["policy"] = "global"
        case .subsetting(let id, let name): snapshot["policy"] = "subsetting \(name) (\(id))"
        }
        if let sessionMinutes { snapshot["session_minutes"] = sessionMinutes }
        if let decidedBy { snapshot["decided_by"] = decidedBy }
        if let comment { snapshot["comment"] = comment }
        if allowsPINOverride { snapshot["pin_override"] = true }
        return snapshot
    }

    /// The body of a webhook delivery about this request.
    func webhookPayload(event: String, at now: Date) -> String {
        var request = snapshotObject
        request["tenant_id"] = tenant.description
        request["created_at"] = createdAt.ISO8601Format()
        if let expiresAt { request["expires_at"] = expiresAt.ISO8601Format() }
        if let decidedAt { request["decided_at"] = decidedAt.ISO8601Format() }
        return AuditJSON.encode(["event": event, "occurred_at": now.ISO8601Format(), "request": request])
    }
}
