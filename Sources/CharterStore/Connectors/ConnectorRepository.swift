package import CharterCore
package import Foundation
import PostgresNIO

/// An enrolled on-premises connector as stored (its token only as a hash).
package struct Connector: Hashable, Sendable {
    package var id: ConnectorID
    package var name: String
    package var hostname: String
    package var version: String
    package var protocolVersion: Int
    /// The raw Ed25519 public key: the connector's identity.
    package var signingKey: Data
    package var enrolledAt: Date
    package var lastSeenAt: Date?
    package var lastSeenIP: String?
    /// What the last heartbeat said of the domain controllers, as JSON (an array).
    package var domainControllers: String
    package var revokedAt: Date?
    package var tokenExpiresAt: Date

    package init(
        id: ConnectorID, name: String, hostname: String, version: String, protocolVersion: Int, signingKey: Data,
        enrolledAt: Date, lastSeenAt: Date? = nil, lastSeenIP: String? = nil, domainControllers: String = "[]",
        revokedAt: Date? = nil, tokenExpiresAt: Date
    ) {
        self.id = id
        self.name = name
        self.hostname = hostname
        self.version = version
        self.protocolVersion = protocolVersion
        self.signingKey = signingKey
        self.enrolledAt = enrolledAt
        self.lastSeenAt = lastSeenAt
        self.lastSeenIP = lastSeenIP
        self.domainControllers = domainControllers
        self.revokedAt = revokedAt
        self.tokenExpiresAt = tokenExpiresAt
    }
}

/// A tenant's connectors, and the leases by which one of them is active for a directory connection.
package struct ConnectorRepository: Sendable {
    let tx: Transaction

    /// What connector authentication needs to know before any tenant is selected.
    package struct Credential: Sendable {
        package var tokenHash: [UInt8]
        package var tokenExpiresAt: Date
        /// The token a renewal replaced, valid until its own expiry.
        package var previousTokenHash: [UInt8]?
        package var previousTokenExpiresAt: Date?
        /// The connector's tenant and its MSP, read together.
        package var binding: TenantBinding
    }

    /// The key a connector signs challenges with, and where it lives.
    package struct SigningIdentity: Sendable {
        package var signingKey: Data
        package var binding: TenantBinding
    }

    /// A connector that is not revoked, of a live tenant, looked up across tenants.
    package func credential(for id: ConnectorID) async throws -> Credential? {
        let rows = try await tx.query(
            """
            SELECT token_hash, token_expires_at, previous_token_hash, previous_token_expires_at, tenant_id, msp_id
            FROM charter_private.connector_session(\(id.rawValue))
            """
        )
        for try await (hash, expiresAt, previousHash, previousExpiresAt, tenant, msp) in rows.decode(
            (Data, Date, Data?, Date?, UUID, UUID).self
        ) {
            return Credential(
                tokenHash: Array(hash), tokenExpiresAt: expiresAt, previousTokenHash: previousHash.map(Array.init),
                previousTokenExpiresAt: previousExpiresAt, binding: TenantBinding(tenant: TenantID(tenant), msp: MSPID(msp))
            )
        }
        return nil
    }

    /// The signing key of a connector that is not revoked, looked up across tenants.
    package func signingIdentity(for id: ConnectorID) async throws -> SigningIdentity? {
        let rows = try await tx.query(
            "SELECT signing_key, tenant_id, msp_id FROM charter_private.connector_signing_key(\(id.rawValue))"
        )
        for try await (key, tenant, msp) in rows.decode((Data, UUID, UUID).self) {
            return SigningIdentity(signingKey: key, binding: TenantBinding(tenant: TenantID(tenant), msp: MSPID(msp)))
        }
        return nil
    }
}

extension Transaction {
    package var connectors: ConnectorRepository { ConnectorRepository(tx: self) }
}
