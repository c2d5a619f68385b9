import CharterCore
package import CharterServices
package import CharterStore
import Foundation

/// The server's ``ApproverEmails``: approvers' emails rendered by ``ApprovalEmail`` and queued in the
/// transaction that records the request's event.
struct ApprovalEmailOutbox: ApproverEmails {
    func enqueue(
        _ event: EmailNotification.Event, about request: StoredRequest, to recipients: [String], in tx: Transaction,
        at now: Date
    ) async throws {
        try await Self.email(event, about: request, to: recipients, in: tx, at: now)
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
}

extension RequestService {
    /// The request service as the server runs it: approvers are emailed when SMTP is configured.
    package init(database: Database, emailsApprovers: Bool) {
        self.init(database: database, approverEmails: emailsApprovers ? ApprovalEmailOutbox() : nil)
    }
}
