import AsyncHTTPClient
import CharterBundle
import CharterCore
import CharterServices
import CharterStore
import Crypto
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import ServiceLifecycle

/// Webhook events and the signature of a delivery.
///
/// Every delivery is a `POST` of a JSON body with `Charter-Event`, `Charter-Delivery` (its id: the same on
/// every retry, for deduplication) and `Charter-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of
/// "<t>.<body>" under the webhook's secret>`. A receiver recomputes the MAC, compares in constant time and
/// refuses a `t` more than 5 minutes away from its clock (replay).
enum Webhooks {
    static let created = RequestEvent.created
    static let decided = RequestEvent.decided
    static let expired = RequestEvent.expired
    static let events = RequestEvent.all

    static func sealingContext(_ id: UUID) -> String {
        WebhookService.sealingContext(id)
    }

    static func signature(body: Data, secret: Data, timestamp: Int64) -> String {
        var message = Data("\(timestamp).".utf8)
        message.append(body)
        let mac = HMAC<SHA256>.authenticationCode(for: message, using: SymmetricKey(data: secret))
        return "t=\(timestamp),v1=" + Hex.string(mac)
    }
}

/// Sends queued webhook deliveries: claims due ones under a token (a lease keeps other replicas off them, the
/// token keeps a late writer from recording over the current claim holder), posts them, records each attempt,
/// and retries failures with exponential backoff (base × 2^attempt, at most an hour, with jitter) until
/// `maximumAttempts`. Shutting down, or when the next delivery could outlast its lease, it hands the rest of
/// its claim back, so no other replica waits out the lease for them. ``DeliveryClaim`` makes these decisions,
/// the same for webhooks and email.
///
/// Each delivery resolves the receiver's host through the ``OutboundGuard`` and connects to the address it
/// checked (an `HTTPClient` of its own whose `dnsOverride` maps the host to that address, so TLS still
/// verifies the host name), follows no redirect, and has one deadline (`timeout`) over the lookup, connect,
/// TLS, request, response headers and body; it reads at most ``maximumResponseBytes`` of the body.
struct WebhookDeliveryService: Service {
    static let maximumAttempts = 10
    /// Response body bytes read before the connection is dropped; the outcome depends only on the status.
    static let maximumResponseBytes = 4096
    static let batchSize = 50
    /// Left in a lease, after a delivery's deadline, for recording its outcome.
    static let recordingMargin: TimeInterval = 15

    let database: Database
    let sealer: SecretSealer
    let outbound: OutboundGuard
    let pollInterval: Duration
    let retryBase: TimeInterval
    /// The deadline of one delivery.
    let timeout: Duration
    let eventLoopGroup: any EventLoopGroup
    let logger: Logger

    init(
        database: Database, sealer: SecretSealer, outbound: OutboundGuard, pollInterval: Duration,
        retryBase: TimeInterval, timeout: Duration = .seconds(10),
        eventLoopGroup: any EventLoopGroup = HTTPClient.defaultEventLoopGroup, logger: Logger
    ) {
        self.database = database
        self.sealer = sealer
        self.outbound = outbound
        self.pollInterval = pollInterval
        self.retryBase = retryBase
        self.timeout = timeout
        self.eventLoopGroup = eventLoopGroup
        self.logger = logger
    }

    /// How long a claim holds: at least two delivery deadlines and the recording margin, so a batch always
    /// sends at least one delivery; the batch stops before its lease could run out (see ``claimPolicy``).
    var claimLease: TimeInterval { max(120, 2 * timeoutSeconds + Self.recordingMargin) }

    /// The claims' rules: a delivery starts only if its deadline and the recording margin fit in the lease.
    var claimPolicy: DeliveryClaim<ClaimedDelivery>.Policy {
        .init(
            lease: claimLease, attemptBudget: timeoutSeconds + Self.recordingMargin, retryBase: retryBase,
            maximumAttempts: Self.maximumAttempts
        )
    }

    private var timeoutSeconds: TimeInterval {
        let (seconds, attoseconds) = timeout.components
        return TimeInterval(seconds) + TimeInterval(attoseconds) / 1e18
    }

    func run() async throws {
        // Only the wait is cut short by shutdown; the claim in hand hands back what it has not sent.
        await Periodic.run(
            every: pollInterval, startingNow: true, logger: logger, failure: "webhook delivery pass failed"
        ) {
            try await deliverDue()
        }
    }

    func deliverDue() async throws {
        let tenants = try await database.readWithoutTenant(logger: logger) { tx in
            try await tx.webhooks.tenantsWithDueDeliveries()
        }
        for (tenant, msp) in tenants where !Task.isShuttingDownGracefully {
            try await deliverDue(of: tenant, msp: msp)
        }
    }

    /// A claimed delivery with its receiver's URL and sealed secret.
    typealias ClaimedDelivery = (delivery: WebhookDelivery, url: String, secretSealed: String)

    /// Claims one batch of the tenant's deliveries due at `claimedAt` and sends them as ``DeliveryClaim``
    /// says, handing the rest back when shutting down or when the next delivery could outlast the lease.
    func deliverDue(of tenant: TenantID, msp: MSPID, at claimedAt: Date = Date()) async throws {
        let token = UUID()
        let policy = claimPolicy
        let claimed = try await database.withTenant(tenant, msp: msp, logger: logger) { tx in
            try await tx.webhooks.claimDue(tenant, limit: Self.batchSize, lease: policy.lease, token: token, at: claimedAt)
        }
        var claim = DeliveryClaim(claimed, claimedAt: claimedAt, policy: policy)
        while true {
            switch claim.next(now: Date(), isShuttingDown: Task.isShuttingDownGracefully) {
            case .done:
                return
            case .handBack(let rest):
                try await database.withTenant(tenant, msp: msp, logger: logger) { tx in
                    try await tx.webhooks.release(tenant, deliveries: rest.map(\.delivery.id), token: token, at: Date())
                }
                return
            case .send(let item):
                let outcome = await send(item.delivery, to: item.url, secretSealed: item.secretSealed)
                try await record(outcome, of: item.delivery, in: tenant, msp: msp, token: token, policy: policy)
            }
        }
    }

    /// Records an attempt under the claim's token: delivered, due again after the backoff, or failed for good.
    private func record(
        _ outcome: Outcome, of delivery: WebhookDelivery, in tenant: TenantID, msp: MSPID, token: UUID,
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
        let recorded = try await database.withTenant(tenant, msp: msp, logger: logger) { tx in
            try await tx.webhooks.record(
                tenant, delivery: delivery.id, token: token, status: status, statusCode: outcome.statusCode,
                error: outcome.error, retryAt: retryAt, at: now
            )
        }
        if !recorded {
            logger.warning(
                "webhook delivery outcome dropped: claim taken over",
                metadata: ["tenant.id": "\(tenant)", "webhook.delivery": "\(delivery.id)"]
            )
        }
    }

    /// How one attempt went, as the tenant reads it.
    struct Outcome: Sendable, Hashable {
        var statusCode: Int?
        /// A failure category (``WebhookDeliveryService/category(for:)``), `nil` when delivered.
        var error: String?
        var isDelivered: Bool { error == nil }
    }

    func send(_ delivery: WebhookDelivery, to url: String, secretSealed: String) async -> Outcome {
        let secret: Data
        do {
            secret = try sealer.open(secretSealed, context: Webhooks.sealingContext(delivery.webhook))
        } catch {
            logger.error("webhook secret cannot be opened", metadata: ["webhook.id": "\(delivery.webhook)"])
            return Outcome(error: "the webhook's secret cannot be opened with the configured keys")
        }
        let deadline = ContinuousClock.now + timeout
        do {
            let code = try await Self.withDeadline(deadline) {
                try await post(delivery, to: url, secret: secret, deadline: deadline)
            }
            guard (200..<300).contains(code) else {
                let text = (300..<400).contains(code) ? "HTTP status \(code) (redirects are not followed)" : "HTTP status \(code)"
                return Outcome(statusCode: code, error: text)
            }
            return Outcome(statusCode: code)
        } catch {
            logger.warning(
                "webhook delivery attempt failed",
                metadata: [
                    "webhook.id": "\(delivery.webhook)", "webhook.delivery": "\(delivery.id)",
                    "error": "\(String(reflecting: error))",
                ]
            )
            return Outcome(error: Self.category(for: error, timeout: timeoutSeconds))
        }
    }

    /// Resolves and checks the receiver, posts the signed delivery to the checked address and reads the
    /// answer; returns its status code.
    private func post(_ delivery: WebhookDelivery, to url: String, secret: Data, deadline: ContinuousClock.Instant)
        async throws -> Int
    {
        // The host exactly as AsyncHTTPClient reads it from the URL (Foundation's parser, brackets trimmed),
        // so the override below is the one it applies.
        guard let parsed = URL(string: url), let scheme = parsed.scheme?.lowercased(), ["http", "https"].contains(scheme),
            var host = parsed.host, !host.isEmpty
        else { throw WebhookURLError() }
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        let address = try await outbound.resolve(host).description
        var configuration = HTTPClient.Configuration()
        configuration.redirectConfiguration = .disallow
        configuration.timeout = .init(connect: .init(timeout), read: .init(timeout))
        configuration.connectionPool.retryConnectionEstablishment = false
        configuration.dnsOverride = [host: address, "[\(host)]": address]
        let client = HTTPClient(eventLoopGroup: eventLoopGroup, configuration: configuration, backgroundActivityLogger: logger)
        do {
            let code = try await exchange(delivery, url: url, secret: secret, client: client, deadline: deadline)
            try await client.shutdown()
            return code
        } catch {
            try? await client.shutdown()
            throw error
        }
    }

    private func exchange(
        _ delivery: WebhookDelivery, url: String, secret: Data, client: HTTPClient, deadline: ContinuousClock.Instant
    ) async throws -> Int {
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
        let response = try await client.execute(request, timeout: .init(ContinuousClock.now.duration(to: deadline)))
        var read = 0
        for try await chunk in response.body {
            read += chunk.readableBytes
            if read >= Self.maximumResponseBytes { break }
        }
        return Int(response.status.code)
    }

    /// Runs `body` until `deadline`; past it, `body` is cancelled and ``DeliveryTimeout`` thrown.
    static func withDeadline<Value: Sendable>(
        _ deadline: ContinuousClock.Instant, _ body: @escaping @Sendable () async throws -> Value
    ) async throws -> Value {
        try await withThrowingTaskGroup(of: Value?.self) { group in
            group.addTask { try await body() }
            group.addTask {
                try await Task.sleep(until: deadline, clock: .continuous)
                return nil
            }
            defer { group.cancelAll() }
            guard let first = try await group.next(), let value = first else { throw DeliveryTimeout() }
            return value
        }
    }

    /// What the tenant reads of a failed attempt: a category, never the receiver's answer or a raw error
    /// text (those go to the log).
    static func category(for error: any Error, timeout: TimeInterval) -> String {
        let timedOut = "timed out (deadline \(Int(timeout.rounded())) s)"
        switch error {
        case let refusal as OutboundRefusal:
            return "refused by the outbound policy (\(refusal.reason.rawValue) address)"
        case is NameResolutionError:
            return "DNS: the host name does not resolve"
        case is WebhookURLError:
            return "the URL is not an absolute http or https URL"
        case is DeliveryTimeout, is CancellationError:
            return timedOut
        case let error as HTTPClientError:
            switch error {
            case .deadlineExceeded, .connectTimeout, .readTimeout, .writeTimeout, .tlsHandshakeTimeout:
                return timedOut
            case .remoteConnectionClosed:
                return "connection closed by the receiver"
            default:
                return "the HTTP exchange failed"
            }
        case is NIOSSLError, is BoringSSLError, is NIOSSLExtraError:
            return "TLS failed"
        case let error as ChannelError:
            if case .connectTimeout = error { return timedOut }
            return "connection failed"
        case let error as NIOConnectionError:
            return error.connectionErrors.first.map { category(for: $0.error, timeout: timeout) } ?? "connection failed"
        case let error as IOError:
            switch error.errnoCode {
            case ECONNREFUSED: return "connection refused"
            case ECONNRESET, EPIPE: return "connection reset"
            case EHOSTUNREACH, ENETUNREACH: return "host unreachable"
            case ETIMEDOUT: return timedOut
            default: return "connection failed"
            }
        default:
            return "delivery failed"
        }
    }
}

/// A delivery that did not finish within its deadline.
struct DeliveryTimeout: Error {}

/// A stored webhook URL that is not an absolute http or https URL.
struct WebhookURLError: Error {}
