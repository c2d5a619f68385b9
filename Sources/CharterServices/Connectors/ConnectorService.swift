package import CharterBundle
package import CharterCore
package import CharterStore
import CharterAgentWire
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

    /// The challenge minter.
    ///
    /// - Throws: ``ConnectorError/noKeyEncryptionKey`` when no key-encryption key is configured.
    func requireChallenges() throws(ConnectorError) -> ServerChallenges {
        guard let challenges else { throw .noKeyEncryptionKey }
        return challenges
    }

    /// A single-use nonce for a connector to sign (renewal, re-enrollment proof), valid
    /// ``ServerChallenges/lifetime``; minted without touching the database.
    ///
    /// - Throws: ``ConnectorError/noKeyEncryptionKey``.
    package func issueChallenge() throws(ConnectorError) -> (nonce: String, expiresAt: Date) {
        try requireChallenges().mint(now: now())
    }

    /// A new connector token for a signature by the connector's key over a challenge
    /// (`ConnectorProtocol.tokenMessage`); the replaced token keeps working until its own expiry.
    ///
    /// - Throws: ``ConnectorError/staleChallenge``, ``ConnectorError/renewalRefused`` (also for a revoked
    ///   connector), or ``ConnectorError/invalid(_:field:)`` for a connector id that is not a UUID.
    package func renewToken(
        connector raw: String, nonce: String, signature: String, logger: Logger
    ) async throws -> (token: String, expiresAt: Date) {
        guard let connector = ConnectorID(raw) else {
            throw ConnectorError.invalid("connector_id must be the connector id (a UUID).", field: "/connector_id")
        }
        let now = now()
        guard let challengeExpiry = try requireChallenges().expiry(of: nonce, now: now) else {
            throw ConnectorError.staleChallenge
        }
        let identity = try await database.readWithoutTenant(logger: logger) { tx in
            try await tx.connectors.signingIdentity(for: connector)
        }
        let message = ConnectorProtocol.tokenMessage(nonce: nonce, connectorID: connector.description)
        guard let identity, EndpointService.verifies(signature, by: identity.signingKey, over: Data(message.utf8)) else {
            throw ConnectorError.renewalRefused
        }
        let token = ConnectorToken.generate(for: connector)
        let expiresAt = now.addingTimeInterval(limits.tokenLifetime)
        try await database.withTenant(identity.binding, logger: logger) { tx in
            // Spent only now, with a signature that holds: a used challenge cannot be replayed.
            guard
                try await tx.agentChallenges.spend(
                    nonceHash: EndpointService.hash(nonce), expiresAt: challengeExpiry, now: now
                )
            else { throw ConnectorError.staleChallenge }
            try await tx.connectors.renewToken(
                identity.binding.tenant, id: connector, tokenHash: token.secretHash, expiresAt: expiresAt
            )
        }
        return (token.string, expiresAt)
    }

    // MARK: - Heartbeat

    /// Records a heartbeat and holds the leases of the connections the connector serves: renews those it
    /// holds, takes those nobody holds or whose holder's ran out (docs/connector-protocol.md, "Heartbeat").
    ///
    /// - Parameters:
    ///   - domainControllers: What the connector found of its domain controllers, as a validated JSON array.
    /// - Returns: The connections the connector serves, by name, and whether it is their active connector.
    package func heartbeat(
        _ connector: AuthenticatedConnector, hostname: String, version: String, domainControllers: String,
        from origin: EndpointService.Origin
    ) async throws -> [ConnectorRepository.Assignment] {
        let now = now()
        return try await database.withTenant(connector.binding, logger: origin.logger) { tx in
            // Revoked since its token was read: it holds nothing.
            guard
                try await tx.connectors.recordHeartbeat(
                    connector.tenant, id: connector.connector, hostname: hostname, version: version,
                    protocolVersion: connector.protocolVersion, ip: origin.clientIP,
                    domainControllers: domainControllers, at: now
                )
            else { throw ConnectorError.invalidConnectorToken }
            return try await tx.connectors.holdLeases(
                connector.tenant, connector: connector.connector,
                until: now.addingTimeInterval(TimeInterval(limits.leaseSeconds)), now: now
            )
        }
    }

    /// The `connector` commands for the connector after `after`, oldest first, at most `limit`, and the last
    /// sequence number pruned from the tenant's feed (a connector that saw an earlier one may have missed some).
    package func missedCommands(
        of connector: AuthenticatedConnector, after: Int64, limit: Int, logger: Logger
    ) async throws -> (entries: [ChangeFeedEntry], prunedThrough: Int64) {
        try await database.withTenant(connector.binding, logger: logger) { tx in
            let entries = try await tx.connectors.commands(
                connector.tenant, for: connector.connector, after: after, limit: limit
            )
            return (entries, try await tx.changeFeed.prunedThrough(of: connector.tenant))
        }
    }
}
