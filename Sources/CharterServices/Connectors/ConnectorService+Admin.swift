package import CharterCore
package import CharterStore
package import Foundation

/// The admin side of the connector area: list, read and revoke a tenant's connectors.
extension ConnectorService {
    /// Whether a connector is heard from.
    package enum Status: String, Sendable, Hashable {
        /// Heard within `connector.lease_seconds`.
        case online
        case offline
        case revoked
    }

    /// A connector as the admin API shows it.
    package struct Details: Sendable {
        package var connector: Connector
        package var status: Status
        /// The directory connections it serves; `nil` in lists.
        package var connections: [ConnectorRepository.Assignment]?
        /// The run it was last assigned; `nil` in lists and before its first.
        package var lastSync: ConnectorRepository.LastSync?
    }

    /// The status of `connector` at `now`: online when heard within `leaseSeconds`.
    package static func status(of connector: Connector, leaseSeconds: Int, now: Date) -> Status {
        if connector.revokedAt != nil { return .revoked }
        guard let lastSeen = connector.lastSeenAt, now.timeIntervalSince(lastSeen) <= TimeInterval(leaseSeconds) else {
            return .offline
        }
        return .online
    }

    /// A page of the tenant's connectors after `cursor`, revoked ones included.
    package func connectors(
        of tenant: TenantID, msp: MSPID, after cursor: ConnectorID?, limit: Int, by caller: Caller
    ) async throws -> [Details] {
        let now = now()
        let connectors = try await database.withTenant(tenant, msp: msp, logger: caller.logger) { tx in
            try await tx.connectors.list(tenant, after: cursor, limit: limit)
        }
        return connectors.map { connector in
            Details(
                connector: connector, status: Self.status(of: connector, leaseSeconds: limits.leaseSeconds, now: now),
                connections: nil, lastSync: nil
            )
        }
    }

    /// A connector of the tenant with the connections it serves.
    ///
    /// - Throws: ``ConnectorError/notFound``.
    package func connector(_ id: ConnectorID, of tenant: TenantID, msp: MSPID, by caller: Caller) async throws -> Details {
        let now = now()
        return try await database.withTenant(tenant, msp: msp, logger: caller.logger) { tx in
            let connector: Connector
            do {
                connector = try await tx.connectors.get(tenant, id: id)
            } catch StoreError.notFound {
                throw ConnectorError.notFound
            }
            return Details(
                connector: connector, status: Self.status(of: connector, leaseSeconds: limits.leaseSeconds, now: now),
                connections: try await tx.connectors.assignments(tenant, connector: id, now: now),
                lastSync: try await tx.connectors.lastSync(tenant, connector: id)
            )
        }
    }

    /// Revokes a connector and records `connector.revoked`: its tokens stop working at once, its leases end,
    /// and its event streams close on every replica (`disconnect`). Revoking it again changes nothing.
    ///
    /// - Throws: ``ConnectorError/notFound``.
    package func revoke(_ id: ConnectorID, of tenant: TenantID, msp: MSPID, by caller: Caller) async throws -> Details {
        let now = now()
        let details = try await database.withTenant(tenant, msp: msp, logger: caller.logger) { tx in
            let before: Connector
            do {
                before = try await tx.connectors.get(tenant, id: id)
            } catch StoreError.notFound {
                throw ConnectorError.notFound
            }
            let (after, revoked) = try await tx.connectors.revoke(tenant, id: id, at: now)
            if revoked {
                try await tx.audit.record(
                    "connector.revoked", on: ("connector", id.description), before: before.auditSnapshot,
                    after: after.auditSnapshot, by: caller, at: now, in: .tenant(tenant)
                )
                try await tx.changeFeed.disconnect(tenant, connectors: [id])
            }
            return Details(
                connector: after, status: .revoked,
                connections: try await tx.connectors.assignments(tenant, connector: id, now: now),
                lastSync: try await tx.connectors.lastSync(tenant, connector: id)
            )
        }
        await disconnect(id)
        return details
    }
}
