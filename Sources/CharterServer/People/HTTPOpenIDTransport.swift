import AsyncHTTPClient
import CharterCore
import CharterServices
import Foundation
import Logging
import NIOCore
import NIOHTTP1

/// The relying party's HTTP client: every request to an identity provider goes through the ``OutboundGuard``
/// as a webhook delivery does (the provider is named by an MSP owner, so it is a tenant-named destination).
///
/// Each request resolves the host through the guard and connects to the checked address (an `HTTPClient` of its
/// own whose `dnsOverride` maps the host to it, so TLS still verifies the host name), follows no redirect, has
/// one deadline (`timeout`) and reads at most ``maximumResponseBytes``.
struct HTTPOpenIDTransport: OpenIDTransport {
    /// Discovery documents, key sets and token answers are small; a larger body is refused.
    static let maximumResponseBytes = 1 << 20

    let outbound: OutboundGuard
    let timeout: Duration
    let eventLoopGroup: any EventLoopGroup
    let logger: Logger

    func get(_ url: String, bearer: String?) async throws -> OpenIDResponse {
        var request = HTTPClientRequest(url: url)
        request.headers.add(name: "Accept", value: "application/json")
        if let bearer { request.headers.add(name: "Authorization", value: "Bearer \(bearer)") }
        return try await send(request)
    }

    func postForm(_ url: String, fields: [(String, String)], basic: (user: String, password: String)?) async throws
        -> OpenIDResponse
    {
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers.add(name: "Accept", value: "application/json")
        request.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
        if let basic {
            let credentials = Data("\(basic.user):\(basic.password)".utf8).base64EncodedString()
            request.headers.add(name: "Authorization", value: "Basic \(credentials)")
        }
        request.body = .bytes(ByteBuffer(string: FormEncoding.encode(fields)))
        return try await send(request)
    }

    private func send(_ request: HTTPClientRequest) async throws -> OpenIDResponse {
        let deadline = ContinuousClock.now + timeout
        return try await HTTPWebhookTransport.withDeadline(deadline) {
            try await exchange(request, deadline: deadline)
        }
    }

    private func exchange(_ request: HTTPClientRequest, deadline: ContinuousClock.Instant) async throws -> OpenIDResponse {
        try await HTTPWebhookTransport.withCheckedClient(
            for: request.url, outbound: outbound, eventLoopGroup: eventLoopGroup, logger: logger
        ) { client in
            do {
                let response = try await client.execute(request, timeout: .init(ContinuousClock.now.duration(to: deadline)))
                let body = try await response.body.collect(upTo: Self.maximumResponseBytes)
                return OpenIDResponse(status: Int(response.status.code), body: Data(body.readableBytesView))
            } catch {
                logger.warning("identity provider request failed", metadata: ["error": "\(String(reflecting: error))"])
                throw error
            }
        }
    }
}
