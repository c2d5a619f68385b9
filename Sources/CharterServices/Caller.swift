package import CharterCore
package import CharterStore
package import Foundation
package import Logging

/// Who asks a service for an operation, as the edge that took the request knows it: the HTTP layer builds one
/// from the authenticated principal, the CLI and the schedulers use ``system(logger:)``.
package struct Caller: Sendable {
    /// The authenticated principal; `nil` for the service's own work.
    package var principal: Principal?
    /// How the audit log names the caller.
    package var actor: AuditRecord.Actor
    package var logger: Logger

    package init(principal: Principal?, actor: AuditRecord.Actor, logger: Logger) {
        self.principal = principal
        self.actor = actor
        self.logger = logger
    }

    /// The service itself (schedulers, expiry, the CLI run by an operator on the host).
    package static func system(logger: Logger) -> Caller {
        Caller(principal: nil, actor: .system, logger: logger)
    }
}

extension AuditRecord.Actor {
    /// How the audit log names `principal`: an API key by its principal's id and name, a person also by their
    /// identity provider's issuer, subject and email.
    package init(principal: Principal, requestID: String?, clientIP: String?) {
        self.init(
            id: principal.id.rawValue, name: principal.name, requestID: requestID, clientIP: clientIP,
            person: principal.person.map { .init(issuer: $0.issuer, subject: $0.subject, email: $0.email) }
        )
    }
}

extension AuditLog {
    /// Appends what `caller` did to `target` at `now`: the one way services write an audit event.
    @discardableResult
    package func record(
        _ action: String,
        on target: (type: String, id: String),
        before: String? = nil,
        after: String? = nil,
        by caller: Caller,
        at now: Date,
        in chain: Chain
    ) async throws -> AuditEvent {
        try await append(
            AuditRecord(
                occurredAt: now,
                actor: caller.actor,
                action: action,
                targetType: target.type,
                targetID: target.id,
                before: before,
                after: after
            ),
            to: chain
        )
    }

    /// Appends what `caller` did to `target` at `now` on the chain of each of many tenants of the MSP selected on
    /// the transaction, with each tenant's `after` snapshot: one event per tenant, in two statements
    /// (``AuditLog/append(_:)``), the chains locked in the order given.
    package func record(
        _ action: String,
        on target: (type: String, id: String),
        after: [(tenant: TenantID, snapshot: String)],
        by caller: Caller,
        at now: Date
    ) async throws {
        try await append(
            after.map { tenant, snapshot in
                (
                    tenant: tenant,
                    record: AuditRecord(
                        occurredAt: now, actor: caller.actor, action: action, targetType: target.type,
                        targetID: target.id, after: snapshot
                    )
                )
            }
        )
    }
}
