package import CharterStore
package import Foundation

/// How a webhook delivery reaches its receiver: the server's is an HTTP client behind the outbound policy
/// (`HTTPWebhookTransport`), handed to ``WebhookDeliveryService`` when the application is built, so this layer
/// has no HTTP types.
package protocol WebhookTransport: Sendable {
    /// The deadline of one delivery, over everything from the name lookup to the end of the answer.
    var timeout: Duration { get }

    /// Posts `delivery`, signed with `secret`, to `url` within ``timeout`` and says how the receiver answered.
    ///
    /// Never throws: what went wrong comes back as a ``WebhookAttempt/failed(category:)`` the tenant may read (a
    /// category, never the receiver's answer or a raw error text, which go to the log).
    func post(_ delivery: WebhookDelivery, to url: String, secret: Data) async -> WebhookAttempt
}

/// How one webhook post went, as its transport reports it.
package enum WebhookAttempt: Sendable, Hashable {
    /// The receiver answered with this HTTP status (any: the service decides what counts as delivered).
    case answered(statusCode: Int)
    /// No answer; `category` says why, in words the tenant may read.
    case failed(category: String)
}
