package import CharterBundle
package import CharterCore
package import CharterStore
import Crypto
package import Foundation
package import Logging

/// The connector area: enrollment, connector tokens, heartbeats and leases, and the admin API's view of
/// connectors (docs/connector-protocol.md, "Identity", "Heartbeat").
///
/// Each operation is one call and, where it writes, one transaction that records its audit event. Challenges
/// are the agents' stateless ``ServerChallenges``, spent once through `agent_challenges`.
package struct ConnectorService: Sendable {
    /// The quotas, lifetimes and intervals the operations enforce and announce.
    package struct Limits: Sendable {
        /// Connectors one tenant may have that are not revoked (`quota.connectors_per_tenant`).
        package var connectorsPerTenant: Int
        /// How long a connector token works before the connector must renew it (`connector.token_seconds`).
        package var tokenLifetime: TimeInterval
        /// How long a heartbeat keeps a connector active for a connection (`connector.lease_seconds`).
        package var leaseSeconds: Int
        /// How often connectors are told to heartbeat (`connector.heartbeat_seconds`).
        package var heartbeatSeconds: Int

        package init(connectorsPerTenant: Int, tokenLifetime: TimeInterval, leaseSeconds: Int, heartbeatSeconds: Int) {
            self.connectorsPerTenant = connectorsPerTenant
            self.tokenLifetime = tokenLifetime
            self.leaseSeconds = leaseSeconds
            self.heartbeatSeconds = heartbeatSeconds
        }
    }

    package let database: Database
    private let challenges: ServerChallenges?
    package let limits: Limits
    /// Closes the connector's streams on this replica at once; other replicas do when they read the feed entry.
    let disconnect: @Sendable (ConnectorID) async -> Void
    let now: @Sendable () -> Date

    /// - Parameters:
    ///   - sealer: The key-encryption key's sealer, which keys challenges; without it challenges and what needs
    ///     them answer ``ConnectorError/noKeyEncryptionKey``.
    ///   - disconnect: Ends the connector's event streams on this replica.
    package init(
        database: Database, sealer: SecretSealer?, limits: Limits,
        disconnect: @escaping @Sendable (ConnectorID) async -> Void = { _ in },
        now: @escaping @Sendable () -> Date = { Date() }
    ) {
        self.database = database
        self.challenges = sealer.map(ServerChallenges.init(sealer:))
        self.limits = limits
        self.disconnect = disconnect
        self.now = now
    }

    // MARK: - Connector tokens

    /// The connector `token` names.
    ///
    /// - Parameter protocolVersion: The version the request speaks, kept in the answer.
    /// - Throws: ``ConnectorError/invalidConnectorToken`` for a missing, unknown, replaced or revoked token,
    ///   ``ConnectorError/connectorTokenExpired`` for an expired one.
    package func identify(
        _ token: ConnectorToken?, protocolVersion: Int, logger: Logger
    ) async throws -> AuthenticatedConnector {
        guard let token else { throw ConnectorError.invalidConnectorToken }
        let credential = try await database.readWithoutTenant(logger: logger) { tx in
            try await tx.connectors.credential(for: token.id)
        }
        guard let credential else { throw ConnectorError.invalidConnectorToken }
        let expiresAt: Date
        if token.matches(credential.tokenHash) {
            expiresAt = credential.tokenExpiresAt
        } else if let previous = credential.previousTokenHash, let previousExpiresAt = credential.previousTokenExpiresAt,
            token.matches(previous)
        {
            expiresAt = previousExpiresAt
        } else {
            throw ConnectorError.invalidConnectorToken
        }
        guard expiresAt > now() else { throw ConnectorError.connectorTokenExpired }
        return AuthenticatedConnector(connector: token.id, binding: credential.binding, protocolVersion: protocolVersion)
    }
}
