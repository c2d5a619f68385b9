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

/// The server's ``WebhookTransport``: posts a signed delivery over HTTP through the outbound policy.
///
/// Each delivery resolves the receiver's host through the ``OutboundGuard`` and connects to the address it
/// checked (an `HTTPClient` of its own whose `dnsOverride` maps the host to that address, so TLS still
/// verifies the host name), follows no redirect, and has one deadline (`timeout`) over the lookup, connect,
/// TLS, request, response headers and body; it reads at most ``maximumResponseBytes`` of the body.
struct HTTPWebhookTransport: WebhookTransport {
    /// Response body bytes read before the connection is dropped; the outcome depends only on the status.
    static let maximumResponseBytes = 4096

    let outbound: OutboundGuard
    /// The deadline of one delivery.
    let timeout: Duration
    let eventLoopGroup: any EventLoopGroup
    let logger: Logger

    private var timeoutSeconds: TimeInterval {
        let (seconds, attoseconds) = timeout.components
        return TimeInterval(seconds) + TimeInterval(attoseconds) / 1e18
    }

    func post(_ delivery: WebhookDelivery, to url: String, secret: Data) async -> WebhookAttempt {
        let deadline = ContinuousClock.now + timeout
        do {
            return .answered(
                statusCode: try await Self.withDeadline(deadline) {
                    try await post(delivery, to: url, secret: secret, deadline: deadline)
                }
            )
        } catch {
            logger.warning(
                "webhook delivery attempt failed",
                metadata: [
                    "webhook.id": "\(delivery.webhook)", "webhook.delivery": "\(delivery.id)",
                    "error": "\(String(reflecting: error))",
                ]
            )
            return .failed(category: Self.category(for: error, timeout: timeoutSeconds))
        }
    }

    /// Resolves and checks the receiver, posts the signed delivery to the checked address and reads the
    /// answer; returns its status code.
    private func post(_ delivery: WebhookDelivery, to url: String, secret: Data, deadline: ContinuousClock.Instant)
        async throws -> Int
    {
        try await Self.withCheckedClient(
            for: url, outbound: outbound, eventLoopGroup: eventLoopGroup, logger: logger,
            configure: { $0.timeout = .init(connect: .init(timeout), read: .init(timeout)) }
        ) { client in
            try await exchange(delivery, url: url, secret: secret, client: client, deadline: deadline)
        }
    }

    /// Runs `body` with an `HTTPClient` of its own for `url`: it connects only to the address the
    /// ``OutboundGuard`` checked for the URL's host (a `dnsOverride`, so TLS still verifies the host name),
    /// follows no redirect and is shut down afterwards. Also the identity providers' transport.
    ///
    /// - Throws: ``WebhookURLError`` when `url` is not an absolute http or https URL, the guard's refusal or
    ///   lookup error, or whatever `body` throws.
    static func withCheckedClient<Value>(
        for url: String, outbound: OutboundGuard, eventLoopGroup: any EventLoopGroup, logger: Logger,
        configure: (inout HTTPClient.Configuration) -> Void = { _ in },
        _ body: (HTTPClient) async throws -> Value
    ) async throws -> Value {
        // The host exactly as AsyncHTTPClient reads it from the URL (Foundation's parser, brackets trimmed),
        // so the override below is the one it applies.
        guard let parsed = URL(string: url), let scheme = parsed.scheme?.lowercased(), ["http", "https"].contains(scheme),
            var host = parsed.host, !host.isEmpty
        else { throw WebhookURLError() }
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        let address = try await outbound.resolve(host).description
        var configuration = HTTPClient.Configuration()
        configuration.redirectConfiguration = .disallow
        configure(&configuration)
        configuration.connectionPool.retryConnectionEstablishment = false
        configuration.dnsOverride = [host: address, "[\(host)]": address]
        let client = HTTPClient(eventLoopGroup: eventLoopGroup, configuration: configuration, backgroundActivityLogger: logger)
        do {
            let value = try await body(client)
            try await client.shutdown()
            return value
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

extension WebhookDeliveryService {
    /// The webhook worker over HTTP (``HTTPWebhookTransport``) with `timeout` as each delivery's deadline.
    init(
        database: Database, sealer: SecretSealer, outbound: OutboundGuard, pollInterval: Duration,
        retryBase: TimeInterval, timeout: Duration = .seconds(10),
        eventLoopGroup: any EventLoopGroup = HTTPClient.defaultEventLoopGroup, logger: Logger
    ) {
        self.init(
            database: database, sealer: sealer,
            transport: HTTPWebhookTransport(
                outbound: outbound, timeout: timeout, eventLoopGroup: eventLoopGroup, logger: logger
            ),
            pollInterval: pollInterval, retryBase: retryBase, logger: logger
        )
    }
}

/// A delivery that did not finish within its deadline.
struct DeliveryTimeout: Error {}

/// A stored webhook URL that is not an absolute http or https URL.
struct WebhookURLError: Error {}
