package import CharterBundle
package import CharterCore
package import CharterStore
package import Foundation
package import Logging
import ServiceLifecycle

/// Sends queued webhook deliveries: claims due ones under a token (a lease keeps other replicas off them, the
/// token keeps a late writer from recording over the current claim holder), posts them, records each attempt,
/// and retries failures with exponential backoff (base × 2^attempt, at most an hour, with jitter) until
/// `maximumAttempts`. Shutting down, or when the next delivery could outlast its lease, it hands the rest of
/// its claim back, so no other replica waits out the lease for them. ``DeliveryClaim`` makes these decisions,
/// the same for webhooks and email.
///
/// The post itself is the ``WebhookTransport``'s (the server's resolves the receiver through its outbound
/// policy, connects to the checked address and keeps one deadline, ``WebhookTransport/timeout``). A 2xx status
/// is delivered; any other, or no answer, is a failure retried.
package struct WebhookDeliveryService: Service {
    package static let maximumAttempts = 10
    package static let batchSize = 50
    /// Left in a lease, after a delivery's deadline, for recording its outcome.
    package static let recordingMargin: TimeInterval = 15

    let database: Database
    let sealer: SecretSealer
    let transport: any WebhookTransport
    let pollInterval: Duration
    let retryBase: TimeInterval
    let logger: Logger

    /// - Parameters:
    ///   - sealer: opens the webhooks' secrets.
    ///   - transport: posts the deliveries; its timeout sets the claims' lease.
    ///   - pollInterval: how often due deliveries are looked for.
    ///   - retryBase: the first retry's delay (`webhooks.retry_base_seconds`).
    package init(
        database: Database, sealer: SecretSealer, transport: any WebhookTransport, pollInterval: Duration,
        retryBase: TimeInterval, logger: Logger
    ) {
        self.database = database
        self.sealer = sealer
        self.transport = transport
        self.pollInterval = pollInterval
        self.retryBase = retryBase
        self.logger = logger
    }

    /// How long a claim holds: at least two delivery deadlines and the recording margin, so a batch always
    /// sends at least one delivery; the batch stops before its lease could run out (see ``claimPolicy``).
    package var claimLease: TimeInterval { max(120, 2 * timeoutSeconds + Self.recordingMargin) }

    /// The claims' rules: a delivery starts only if its deadline and the recording margin fit in the lease.
    package var claimPolicy: DeliveryClaim<ClaimedDelivery>.Policy {
        .init(
            lease: claimLease, attemptBudget: timeoutSeconds + Self.recordingMargin, retryBase: retryBase,
            maximumAttempts: Self.maximumAttempts
        )
    }

    private var timeoutSeconds: TimeInterval {
        let (seconds, attoseconds) = transport.timeout.components
        return TimeInterval(seconds) + TimeInterval(attoseconds) / 1e18
    }

    package func run() async throws {
        // Only the wait is cut short by shutdown; the claim in hand hands back what it has not sent.
        await Periodic.run(
            every: pollInterval, startingNow: true, logger: logger, failure: "webhook delivery pass failed"
        ) {
            try await deliverDue()
        }
    }

    /// Sends one batch of every tenant's, and every MSP's, deliveries due now.
    package func deliverDue() async throws {
        let tenants = try await database.readWithoutTenant(logger: logger) { tx in
            try await tx.webhooks.tenantsWithDueDeliveries()
        }
        for (tenant, msp) in tenants where !Task.isShuttingDownGracefully {
            try await deliverDue(of: tenant, msp: msp)
        }
        let msps = try await database.readWithoutTenant(logger: logger) { tx in
            try await tx.mspWebhooks.mspsWithDueDeliveries()
        }
        for msp in msps where !Task.isShuttingDownGracefully {
            try await deliverDue(ofMSP: msp)
        }
    }

    /// A claimed delivery with its receiver's URL and sealed secret.
    package typealias ClaimedDelivery = (delivery: WebhookDelivery, url: String, secretSealed: String)

    /// Whose outbox a claim is of: a tenant's webhooks', or an MSP's (migration 0023).
    enum Outbox {
        case tenant(TenantID, msp: MSPID)
        case msp(MSPID)
    }

    /// Claims one batch of the tenant's deliveries due at `claimedAt` and sends them as ``DeliveryClaim``
    /// says, handing the rest back when shutting down or when the next delivery could outlast the lease.
    package func deliverDue(of tenant: TenantID, msp: MSPID, at claimedAt: Date = Date()) async throws {
        try await deliverDue(of: .tenant(tenant, msp: msp), at: claimedAt)
    }

    /// Claims one batch of the MSP webhooks' deliveries due at `claimedAt` and sends them, as for a tenant.
    package func deliverDue(ofMSP msp: MSPID, at claimedAt: Date = Date()) async throws {
        try await deliverDue(of: .msp(msp), at: claimedAt)
    }

    private func deliverDue(of outbox: Outbox, at claimedAt: Date) async throws {
        let token = UUID()
        let policy = claimPolicy
        let claimed = try await transaction(outbox) { tx in
            let (limit, lease) = (Self.batchSize, policy.lease)
            return switch outbox {
            case .tenant(let tenant, _):
                try await tx.webhooks.claimDue(tenant, limit: limit, lease: lease, token: token, at: claimedAt)
            case .msp(let msp):
                try await tx.mspWebhooks.claimDue(msp, limit: limit, lease: lease, token: token, at: claimedAt)
            }
        }
        var claim = DeliveryClaim(claimed, claimedAt: claimedAt, policy: policy)
        while true {
            switch claim.next(now: Date(), isShuttingDown: Task.isShuttingDownGracefully) {
            case .done:
                return
            case .handBack(let rest):
                let ids = rest.map(\.delivery.id)
                try await transaction(outbox) { tx in
                    switch outbox {
                    case .tenant(let tenant, _):
                        try await tx.webhooks.release(tenant, deliveries: ids, token: token, at: Date())
                    case .msp(let msp):
                        try await tx.mspWebhooks.release(msp, deliveries: ids, token: token, at: Date())
                    }
                }
                return
            case .send(let item):
                let context =
                    switch outbox {
                    case .tenant: WebhookService.sealingContext(item.delivery.webhook)
                    case .msp(let msp): WebhookService.sealingContext(item.delivery.webhook, msp: msp)
                    }
                let outcome = await send(item.delivery, to: item.url, secretSealed: item.secretSealed, context: context)
                try await record(outcome, of: item.delivery, in: outbox, token: token, policy: policy)
            }
        }
    }

    /// Runs `body` in the outbox's transaction: the tenant's, or the MSP's with no tenant.
    private func transaction<Result: Sendable>(
        _ outbox: Outbox, _ body: (Transaction) async throws -> Result
    ) async throws -> Result {
        switch outbox {
        case .tenant(let tenant, let msp): try await database.withTenant(tenant, msp: msp, logger: logger, body)
        case .msp(let msp): try await database.withMSP(msp, logger: logger, body)
        }
    }

    /// Records an attempt under the claim's token: delivered, due again after the backoff, or failed for good.
    private func record(
        _ outcome: Outcome, of delivery: WebhookDelivery, in outbox: Outbox, token: UUID,
        policy: DeliveryClaim<ClaimedDelivery>.Policy
    ) async throws {
        let now = Date()
        let verdict = policy.verdict(
            afterAttempt: delivery.attempts + 1, outcome.isDelivered ? .delivered : .failed(isPermanent: false),
            now: now, jitter: Double.random(in: 0.8...1.2)
        )
        let (status, retryAt): (WebhookDelivery.Status, Date) =
            switch verdict {
            case .delivered: (.delivered, now)
            case .retry(let at): (.pending, at)
            case .failed: (.failed, now)
            }
        let recorded = try await transaction(outbox) { tx in
            switch outbox {
            case .tenant(let tenant, _):
                try await tx.webhooks.record(
                    tenant, delivery: delivery.id, token: token, status: status, statusCode: outcome.statusCode,
                    error: outcome.error, retryAt: retryAt, at: now
                )
            case .msp(let msp):
                try await tx.mspWebhooks.record(
                    msp, delivery: delivery.id, token: token, status: status, statusCode: outcome.statusCode,
                    error: outcome.error, retryAt: retryAt, at: now
                )
            }
        }
        if !recorded {
            let owner: Logger.Metadata =
                switch outbox {
                case .tenant(let tenant, _): ["tenant.id": "\(tenant)"]
                case .msp(let msp): ["msp.id": "\(msp)"]
                }
            logger.warning(
                "webhook delivery outcome dropped: claim taken over",
                metadata: owner.merging(["webhook.delivery": "\(delivery.id)"]) { $1 }
            )
        }
    }

    /// How one attempt went, as the tenant reads it.
    package struct Outcome: Sendable, Hashable {
        package var statusCode: Int?
        /// A failure category (the transport's, or the status's), `nil` when delivered.
        package var error: String?
        package var isDelivered: Bool { error == nil }
    }

    /// Opens the webhook's secret (sealed in `context`) and posts the delivery through the transport.
    func send(_ delivery: WebhookDelivery, to url: String, secretSealed: String, context: String) async -> Outcome {
        let secret: Data
        do {
            secret = try sealer.open(secretSealed, context: context)
        } catch {
            logger.error("webhook secret cannot be opened", metadata: ["webhook.id": "\(delivery.webhook)"])
            return Outcome(error: "the webhook's secret cannot be opened with the configured keys")
        }
        switch await transport.post(delivery, to: url, secret: secret) {
        case .failed(let category):
            return Outcome(error: category)
        case .answered(let code) where (200..<300).contains(code):
            return Outcome(statusCode: code)
        case .answered(let code):
            let text = (300..<400).contains(code) ? "HTTP status \(code) (redirects are not followed)" : "HTTP status \(code)"
            return Outcome(statusCode: code, error: text)
        }
    }
}
