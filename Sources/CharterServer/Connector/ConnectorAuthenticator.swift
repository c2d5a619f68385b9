import CharterAgentWire
import CharterCore
import CharterServices
import Foundation
import HTTPTypes
import Hummingbird

/// Authenticates requests of on-premises connectors under `/v1/connector` (docs/connector-protocol.md,
/// "Versions", "Identity"): the `Charter-Connector-Protocol` header, the `chtk_` token, and the rate limits of
/// the connector and its tenant.
///
/// Every authenticated connector route starts with it, as agent routes start with the device token:
///
/// ```swift
/// group.get("work") { request, context in
///     let connector = try await authenticator.authenticate(request, context: context)
///     // connector.connector, connector.binding (database.withTenant(connector.binding, …)), connector.tenant
/// }
/// ```
struct ConnectorAuthenticator: Sendable {
    /// The protocol versions this service speaks.
    static let protocolRange = ConnectorProtocolRange(minimum: 1, maximum: ConnectorProtocol.version)

    let connectors: ConnectorService
    /// Requests per connector and tenant.
    let rateLimiter: RateLimiter

    /// The connector a request's token names, counted against the connector's and the tenant's rate limits.
    ///
    /// - Parameter allowsOutdated: Whether a connector below the protocol range is served (its
    ///   ``AuthenticatedConnector/protocolVersion`` then says so): only the event stream, which tells it to update.
    /// - Throws: 426 `connector-update-required` for a protocol version below the service's range, 401 for a
    ///   missing, unknown, replaced or revoked token, 401 `token-expired` for an expired one, 429 beyond a limit.
    func authenticate(
        _ request: Request, context: AppRequestContext, allowsOutdated: Bool = false
    ) async throws -> AuthenticatedConnector {
        let version = try protocolVersion(of: request, allowsOutdated: allowsOutdated)
        let connector = try await connectors.identify(
            ConnectorToken(authorization: request.headers[.authorization]), protocolVersion: version,
            logger: context.logger
        )
        do throws(RateLimiter.Limited) {
            try rateLimiter.admit(.connector(connector.connector), .tenant(connector.tenant))
        } catch {
            throw Problem(limited: error)
        }
        return connector
    }

    /// The protocol version a request speaks: 1 when it does not say, the highest this service knows when it says
    /// a higher one.
    ///
    /// - Parameter allowsOutdated: Whether a version below ``protocolRange`` is answered rather than refused.
    /// - Throws: 426 `connector-update-required` below ``protocolRange``; 400 for a header that is not a number.
    func protocolVersion(of request: Request, allowsOutdated: Bool = false) throws -> Int {
        try Self.protocolVersion(request.headers[Self.protocolHeader], allowsOutdated: allowsOutdated)
    }

    /// The protocol version a `Charter-Connector-Protocol` header value says (see
    /// ``protocolVersion(of:allowsOutdated:)``).
    static func protocolVersion(_ header: String?, allowsOutdated: Bool = false) throws -> Int {
        guard let header else { return 1 }
        guard let version = Int(header.trimmingCharacters(in: .whitespaces)) else {
            throw Problem(
                .malformedRequest, "\(ConnectorProtocol.header) must be a protocol version number, such as 1.",
                field: ConnectorProtocol.header
            )
        }
        guard version >= protocolRange.minimum || allowsOutdated else {
            throw Problem(
                .connectorUpdateRequired,
                "This service speaks connector protocol \(protocolRange.minimum)–\(protocolRange.maximum); "
                    + "update the connector.",
                field: ConnectorProtocol.header
            )
        }
        return min(version, protocolRange.maximum)
    }

    static let protocolHeader = HTTPField.Name(ConnectorProtocol.header)!
}
