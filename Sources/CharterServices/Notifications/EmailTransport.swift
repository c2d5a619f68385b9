package import CharterStore

/// How an approval email reaches its recipients: the server's is its SMTP client (`SMTPClient`), handed to
/// ``EmailDeliveryService`` when the application is built.
package protocol EmailTransport: Sendable {
    /// Renders `notification` and sends it to `recipients` (the ones claimed now) in one session.
    ///
    /// Never throws: every recipient gets an outcome, a failure of the whole session included.
    func deliver(
        _ notification: EmailNotification, to recipients: [String]
    ) async -> [String: EmailDeliveryService.AttemptResult]
}
