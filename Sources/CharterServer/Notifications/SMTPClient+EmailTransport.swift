import CharterServices
import CharterStore
import Foundation
import Logging

extension SMTPClient: EmailTransport {
    /// Renders the notification and sends it to `recipients` in one session: a refused recipient fails alone, a
    /// message that cannot be rendered fails for good, and anything else that ends the session (no connection,
    /// TLS, authentication, a timeout) fails every recipient, to be retried.
    func deliver(
        _ notification: EmailNotification, to recipients: [String]
    ) async -> [String: EmailDeliveryService.AttemptResult] {
        let message = EmailMessage(
            from: configuration.from, to: notification.recipients.filter(Mailbox.isEnvelopeAddress),
            subject: notification.subject, body: notification.body, date: Date(),
            messageID: "\(notification.id.uuidString.lowercased())@\(configuration.from.domain)"
        )
        let failure: EmailDeliveryService.AttemptResult
        do {
            let rendered = try message.rendered()
            let outcomes = try await send(rendered, from: configuration.from.address, to: recipients)
            return outcomes.mapValues { outcome in
                switch outcome {
                case .accepted(let reply): .sent(replyCode: reply.code)
                case .refused(let error):
                    .failed(reason: error.description, replyCode: error.replyCode, isPermanent: error.isPermanent)
                }
            }
        } catch let error as EmailMessage.RenderingError {
            failure = .failed(reason: error.description, replyCode: nil, isPermanent: true)
        } catch let error as SMTPError {
            failure = .failed(reason: error.description, replyCode: error.replyCode, isPermanent: false)
        } catch {
            failure = .failed(reason: String(describing: error), replyCode: nil, isPermanent: false)
        }
        return Dictionary(uniqueKeysWithValues: recipients.map { ($0, failure) })
    }
}

extension EmailDeliveryService {
    /// The email worker over the server's SMTP client, retrying after its `smtp.retry_base_seconds`.
    init(
        database: Database, client: SMTPClient, pollInterval: Duration, logger: Logger,
        maximumPerTenantPerHour: Int = 500
    ) {
        self.init(
            database: database, transport: client, retryBase: TimeInterval(client.configuration.retryBaseSeconds),
            pollInterval: pollInterval, logger: logger, maximumPerTenantPerHour: maximumPerTenantPerHour
        )
    }
}
