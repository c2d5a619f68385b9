/// The webhook events of a request's life (docs/webhooks.md), queued in the transaction that makes the change.
package enum RequestEvent {
    package static let created = "request.created"
    package static let decided = "request.decided"
    package static let expired = "request.expired"
    package static let all = [created, decided, expired]
}
