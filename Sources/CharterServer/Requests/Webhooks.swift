import AsyncHTTPClient
import CharterBundle
import CharterCore
import CharterStore
import Crypto
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import ServiceLifecycle

/// Webhook events and the signature of a delivery.
///
/// Every delivery is a `POST` of a JSON body with `Charter-Event`, `Charter-Delivery` (its id: the same on
/// every retry, for deduplication) and `Charter-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of
/// "<t>.<body>" under the webhook's secret>`. A receiver recomputes the MAC, compares in constant time and
/// refuses a `t` more than 5 minutes away from its clock (replay).
enum Webhooks {
    static let created = "request.created"
    static let decided = "request.decided"
    static let expired = "request.expired"
    static let events = [created, decided, expired]

    static func sealingContext(_ id: UUID) -> String {
        "webhooks/\(id.uuidString.lowercased())/secret"
    }

    static func signature(body: Data, secret: Data, timestamp: Int64) -> String {
        var message = Data("\(timestamp).".utf8)
        message.append(body)
        let mac = HMAC<SHA256>.authenticationCode(for: message, using: SymmetricKey(data: secret))
        return "t=\(timestamp),v1=" + Hex.string(mac)
    }
}

/// Sends queued webhook deliveries: claims due ones (a lease keeps other replicas off them), posts them,
/// records each attempt, and retries failures with exponential backoff (base × 2^attempt, at most an hour,
/// with jitter) until `maximumAttempts`. Shutting down, it sends and records the delivery in hand and hands the
/// rest of its claim back, so no other replica waits out the lease for them.
struct WebhookDeliveryService: Service {
    static let maximumAttempts = 10
    static let claimLease: TimeInterval = 120

    let database: Database
    let sealer: SecretSealer
    let pollInterval: Duration
    let retryBase: TimeInterval
    let logger: Logger

    func run() async throws {
        let http = HTTPClient(eventLoopGroupProvider: .singleton)
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            do {
                try await deliverDue(with: http)
            } catch is CancellationError {
                break
            } catch {
                logger.warning("webhook delivery pass failed", metadata: ["error": "\(String(reflecting: error))"])
            }
            // Only the wait is cut short by shutdown.
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: pollInterval) }
        }
        try await http.shutdown()
    }

    func deliverDue(with http: HTTPClient) async throws {
        let tenants = try await database.readWithoutTenant(logger: logger) { tx in
            try await tx.webhooks.tenantsWithDueDeliveries()
        }
        for (tenant, msp) in tenants where !Task.isShuttingDownGracefully {
            let now = Date()
            let claimed = try await database.withTenant(tenant, msp: msp, logger: logger) { tx in
                try await tx.webhooks.claimDue(tenant, limit: 50, lease: Self.claimLease, at: now)
            }
            for (index, (delivery, url, sealed)) in claimed.enumerated() {
                if Task.isShuttingDownGracefully {
                    let rest = claimed[index...].map(\.delivery.id)
                    try await database.withTenant(tenant, msp: msp, logger: logger) { tx in
                        try await tx.webhooks.release(tenant, deliveries: rest, at: Date())
                    }
                    return
                }
                let outcome = await send(delivery, to: url, secretSealed: sealed, with: http)
                let attempts = delivery.attempts + 1
                let status: WebhookDelivery.Status =
                    outcome.delivered ? .delivered : (attempts >= Self.maximumAttempts ? .failed : .pending)
                let delay = min(retryBase * pow(2, Double(attempts - 1)), 3600) * Double.random(in: 0.8...1.2)
                try await database.withTenant(tenant, msp: msp, logger: logger) { tx in
                    try await tx.webhooks.record(
                        tenant, delivery: delivery.id, status: status, statusCode: outcome.statusCode,
                        error: outcome.error, retryAt: Date().addingTimeInterval(delay), at: Date()
                    )
                }
            }
        }
    }

    private func send(
        _ delivery: WebhookDelivery, to url: String, secretSealed: String, with http: HTTPClient
    ) async -> (delivered: Bool, statusCode: Int?, error: String?) {
        do {
            let secret = try sealer.open(secretSealed, context: Webhooks.sealingContext(delivery.webhook))
            let body = Data(delivery.payload.utf8)
            var request = HTTPClientRequest(url: url)
            request.method = .POST
            request.headers.add(name: "Content-Type", value: "application/json")
            request.headers.add(name: "User-Agent", value: "Charter-Webhooks/1")
            request.headers.add(name: "Charter-Event", value: delivery.event)
            request.headers.add(name: "Charter-Delivery", value: delivery.id.uuidString.lowercased())
            request.headers.add(
                name: "Charter-Signature",
                value: Webhooks.signature(body: body, secret: secret, timestamp: Int64(Date().timeIntervalSince1970))
            )
            request.body = .bytes(ByteBuffer(bytes: body))
            let response = try await http.execute(request, timeout: .seconds(10))
            _ = try? await response.body.collect(upTo: 64 * 1024)
            let code = Int(response.status.code)
            return ((200..<300).contains(code), code, (200..<300).contains(code) ? nil : "HTTP \(code)")
        } catch {
            return (false, nil, String(describing: error).prefix(500).description)
        }
    }
}
