package import CharterStore
package import Foundation

/// Queues the email to approvers about an event of a request, in the transaction that records the event (an
/// outbox: the email is never lost, and never sent for a change that rolled back).
///
/// The server's renders the message (its `ApprovalEmail`); the services layer only decides when to send.
package protocol ApproverEmails: Sendable {
    /// Queues the email about `event` of `request` to `recipients`, when there are any.
    func enqueue(
        _ event: EmailNotification.Event, about request: StoredRequest, to recipients: [String], in tx: Transaction,
        at now: Date
    ) async throws
}
