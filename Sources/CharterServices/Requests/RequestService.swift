package import CharterCore
package import CharterStore
package import Foundation
package import Logging

/// Elevation requests: decided by policy as the agent submits them, listed and decided by approvers, expired
/// when nobody decides in time.
///
/// Every change is one transaction that stores it, queues its webhook deliveries and approvers' emails
/// (outboxes), audits it on the tenant's chain and, last, appends the `decision` hint for the device.
/// Authorisation is the caller's.
package struct RequestService: Sendable {
    /// The longest comment an approver may give.
    package static let maximumCommentLength = 2000

    /// A request as the agent sent it, validated.
    package struct Submission: Sendable {
        package var kind: ElevationKind
        package var user: DeviceUser
        package var application: ElevationRequest.Application?
        package var reason: String?

        package init(
            kind: ElevationKind, user: DeviceUser, application: ElevationRequest.Application?, reason: String?
        ) {
            self.kind = kind
            self.user = user
            self.application = application
            self.reason = reason
        }
    }

    let database: Database
    /// Queues approvers' emails; `nil` without SMTP, when nobody is emailed.
    let approverEmails: (any ApproverEmails)?
    /// The clock; tests may pin it.
    let now: @Sendable () -> Date

    package init(
        database: Database, approverEmails: (any ApproverEmails)?, now: @escaping @Sendable () -> Date = { Date() }
    ) {
        self.database = database
        self.approverEmails = approverEmails
        self.now = now
    }

    // MARK: - Reading

    /// The tenant's requests matching `filter`, newest first after `cursor`, at most `limit` of them.
    package func list(
        of tenant: TenantID, msp: MSPID, matching filter: RequestFilter, after cursor: RequestCursor?, limit: Int,
        by caller: Caller
    ) async throws -> [StoredRequest] {
        try await database.withTenant(tenant, msp: msp, logger: caller.logger) { tx in
            try await tx.requests.list(filter, after: cursor, limit: limit)
        }
    }

    /// The requests of all the MSP's tenants matching `filter`, newest first after `cursor`.
    package func list(
        ofMSP msp: MSPID, matching filter: RequestFilter, after cursor: RequestCursor?, limit: Int, by caller: Caller
    ) async throws -> [StoredRequest] {
        try await database.withMSP(msp, logger: caller.logger) { tx in
            try await tx.requests.list(filter, after: cursor, limit: limit)
        }
    }

    /// One request of the tenant.
    package func get(_ id: UUID, of tenant: TenantID, msp: MSPID, by caller: Caller) async throws -> StoredRequest {
        try await database.withTenant(tenant, msp: msp, logger: caller.logger) { tx in try await tx.requests.get(id) }
    }

    /// One request of `device`; another device's looks like a missing one.
    ///
    /// - Throws: ``RequestError/notRequestOfDevice``.
    package func get(
        _ id: UUID, ofDevice device: DeviceID, tenant: TenantID, msp: MSPID, logger: Logger
    ) async throws -> StoredRequest {
        let stored = try await database.withTenant(tenant, msp: msp, logger: logger) { tx in
            try await tx.requests.get(id)
        }
        guard stored.device == device else { throw RequestError.notRequestOfDevice }
        return stored
    }

    // MARK: - Decisions

    /// Decides `submission` from `device` under the effective policy of its user on its computer now, and
    /// stores it (and, when logged, audits it as the device's act).
    ///
    /// A pending request queues an email to the policy's `approval.notify_emails` (with SMTP configured).
    ///
    /// - Throws: ``RequestError/reasonRequired`` when the policy needs a reason and none was given.
    package func submit(
        _ submission: Submission, from device: DeviceID, of tenant: TenantID, msp: MSPID, logger: Logger
    ) async throws -> StoredRequest {
        let now = now()
        return try await database.withTenant(tenant, msp: msp, logger: logger) { tx in
            let device = try await tx.devices.get(tenant, id: device)
            let (stored, policy) = try await decide(submission, from: device, of: tenant, in: tx, now: now)
            try await tx.requests.create(stored)
            let payload = stored.webhookPayload(event: RequestEvent.created, at: now)
            try await tx.webhooks.enqueue(tenant, event: RequestEvent.created, payload: payload, at: now)
            if let approverEmails, stored.status == .pending {
                try await approverEmails.enqueue(
                    .pending, about: stored, to: policy.settings.approval.notifyEmails, in: tx, at: now
                )
            }
            if stored.isLogged {
                let actor = AuditRecord.Actor(id: device.id.rawValue, name: "device \(device.hostname)")
                try await tx.audit.record(
                    "request.\(stored.status == .pending ? "submitted" : stored.status.rawValue)",
                    on: ("request", stored.id.uuidString.lowercased()), after: stored.auditSnapshot,
                    by: Caller(principal: nil, actor: actor, logger: logger), at: now, in: .tenant(tenant)
                )
            }
            return stored
        }
    }

    /// Core's decision on `submission` under the effective policy, as the request to store.
    private func decide(
        _ submission: Submission, from device: Device, of tenant: TenantID, in tx: Transaction, now: Date
    ) async throws -> (StoredRequest, EffectivePolicy) {
        let matched = try await tx.devices.directoryUsers(tenant, matching: [submission.user]).first?.guid
        let computer = device.computer
        let composition = try await ComposedPolicy.load(of: tenant, in: tx)
        let facts = try await tx.policyFacts.facts(about: [computer, matched].compactMap { $0 }, in: tenant)
        let policy = composition.resolver.resolve(for: matched, on: computer, in: facts)
        let request = ElevationRequest(
            kind: submission.kind, user: matched, application: submission.application, reason: submission.reason
        )
        var lastApproval: Date?
        if submission.kind == .runAsAdmin, let matched, let application = submission.application {
            lastApproval = try await tx.requests.lastApproval(device: device.id, user: matched, application: application)
        }
        let mode = submission.kind == .runAsAdmin ? policy.settings.runAsAdmin.mode : policy.settings.adminSession.mode
        var standingApproval: StandingApproval?
        if mode.needsApproval, let application = submission.application {
            let sha256 = application.sha256.flatMap { HexDigest.normalized($0, lengths: [64]) }
            let candidates = try await tx.standingApprovals.active(
                tenant, kind: submission.kind, sha256: sha256, path: application.path, at: now
            )
            if !candidates.isEmpty {
                let groups = Set(matched.map { facts.groups(of: $0).map(\.group) } ?? [])
                standingApproval = candidates.first { $0.covers(request, on: device.id, groups: groups, at: now) }
            }
        }
        let decision = RequestDecision.decide(
            request, under: policy, at: now, lastApproval: lastApproval, standingApproval: standingApproval
        )
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
            throw RequestError.reasonRequired
        }
        let isServer = device.os?.localizedCaseInsensitiveContains("server") ?? false
        let stored = StoredRequest(
            id: UUID(), tenant: tenant, device: device.id, kind: submission.kind, userSID: submission.user.sid,
            userGUID: submission.user.guid, userUPN: submission.user.upn, directoryUser: matched, computer: computer,
            hostname: device.hostname, application: submission.application, reason: submission.reason, status: status,
            isLogged: isLogged, allowsPINOverride: allowsPINOverride, source: decision.decidedBy,
            decisionReason: Self.explanation(decision.reason),
            sessionMinutes: submission.kind == .adminSession
                ? (isServer ? policy.settings.adminSession.serverDurationMinutes : policy.settings.adminSession.workstationDurationMinutes)
                : nil,
            createdAt: now, expiresAt: expiresAt, decidedAt: status == .pending ? nil : now
        )
        return (stored, policy)
    }

    static func explanation(_ reason: RequestDecision.Reason) -> String {
        switch reason {
        case .preApproved(let index, let fileName): "pre-approved application \(fileName) (entry \(index))"
        case .mode(let mode): "mode \(mode.rawValue)"
        case .approvalStillValid(let approvedAt): "approved at \(approvedAt.ISO8601Format()) and still valid"
        case .standingApproval(let approval):
            "standing approval \(approval.id.uuidString.lowercased()) (\(approval.scope.kind.rawValue)) by "
                + "\(approval.approvedBy), valid until \(approval.expiresAt.ISO8601Format())"
        }
    }

    /// Records an approver's decision on a pending request, audits it and hints the device.
    ///
    /// - Throws: ``RequestError/commentTooLong``; ``RequestError/alreadyDecided(_:)`` when the request is no
    ///   longer pending.
    package func decide(
        _ id: UUID, approve: Bool, comment: String?, of tenant: TenantID, msp: MSPID, by caller: Caller
    ) async throws -> StoredRequest {
        if let comment, comment.count > Self.maximumCommentLength { throw RequestError.commentTooLong }
        let now = now()
        return try await database.withTenant(tenant, msp: msp, logger: caller.logger) { tx in
            let before = try await tx.requests.get(id)
            guard
                let decided = try await tx.requests.decide(
                    id, status: approve ? .approved : .denied, by: caller.actor.id, name: caller.actor.name,
                    comment: comment, at: now
                )
            else { throw RequestError.alreadyDecided(before.status) }
            let payload = decided.webhookPayload(event: RequestEvent.decided, at: now)
            try await tx.webhooks.enqueue(tenant, event: RequestEvent.decided, payload: payload, at: now)
            // The audit append locks the tenant's chain and the hint the change feed, both until the commit: take
            // them last, so that concurrent decisions wait for as few round trips as possible.
            try await tx.audit.record(
                "request.\(decided.status.rawValue)", on: ("request", id.uuidString.lowercased()),
                before: before.auditSnapshot, after: decided.auditSnapshot, by: caller, at: now, in: .tenant(tenant)
            )
            try await Self.hint(decided, in: tx)
            return decided
        }
    }

    /// Expires every pending request past its lifetime at `now`: per tenant one transaction that expires them,
    /// queues their webhooks and emails, audits each as the system's act and hints the devices. The conditional
    /// update lets exactly one replica expire each request.
    package func expireDue(now: Date, logger: Logger) async throws {
        let caller = Caller.system(logger: logger)
        let tenants = try await database.readWithoutTenant(logger: logger) { tx in
            try await tx.requests.tenantsWithExpiredRequests()
        }
        for (tenant, msp) in tenants {
            try await database.withTenant(tenant, msp: msp, logger: logger) { tx in
                let expired = try await tx.requests.expire(tenant, at: now)
                for request in expired {
                    try await tx.webhooks.enqueue(
                        tenant, event: RequestEvent.expired,
                        payload: request.webhookPayload(event: RequestEvent.expired, at: now), at: now
                    )
                    if let approverEmails {
                        let recipients = try await tx.email.recipients(of: request.id, event: .pending)
                        try await approverEmails.enqueue(.expired, about: request, to: recipients, in: tx, at: now)
                    }
                    try await tx.audit.record(
                        "request.expired", on: ("request", request.id.uuidString.lowercased()),
                        after: request.auditSnapshot, by: caller, at: now, in: .tenant(tenant)
                    )
                }
                for request in expired {
                    try await Self.hint(request, in: tx)
                }
            }
        }
    }

    /// Appends the `decision` hint for the request's device; call it last in the transaction (see
    /// `ChangeFeedRepository.append(_:event:devices:data:)`).
    static func hint(_ request: StoredRequest, in tx: Transaction) async throws {
        let data = #"{"request_id":"\#(request.id.uuidString.lowercased())","status":"\#(request.status.rawValue)"}"#
        try await tx.changeFeed.append(request.tenant, event: .decision, devices: [request.device], data: data)
    }
}
