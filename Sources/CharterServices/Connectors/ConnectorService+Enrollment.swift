import CharterAgentWire
import CharterBundle
package import CharterCore
package import CharterStore
package import Foundation

extension ConnectorService {
    /// A validated `POST /v1/connector/enroll` (docs/connector-protocol.md, "Enroll").
    package struct Enrollment: Sendable {
        /// A signature by the current key of the connector to re-enroll over a fresh challenge and the new key.
        package struct Proof: Sendable {
            package var connector: ConnectorID
            package var nonce: String
            package var signature: String

            package init(connector: ConnectorID, nonce: String, signature: String) {
                self.connector = connector
                self.nonce = nonce
                self.signature = signature
            }
        }

        package var secret: EnrollmentTokenSecret
        package var name: String
        package var hostname: String
        package var version: String
        package var protocolVersion: Int
        /// The raw Ed25519 key of the connector.
        package var signingKey: Data
        package var proof: Proof?

        package init(
            secret: EnrollmentTokenSecret, name: String, hostname: String, version: String, protocolVersion: Int,
            signingKey: Data, proof: Proof?
        ) {
            self.secret = secret
            self.name = name
            self.hostname = hostname
            self.version = version
            self.protocolVersion = protocolVersion
            self.signingKey = signingKey
            self.proof = proof
        }
    }

    /// What an enrollment gives the connector.
    package struct Enrolled: Sendable {
        package var connector: Connector
        /// The connector token (`chtk_…`), shown once.
        package var token: String
        package var tenant: TenantID
        /// Whether an existing connector's key was replaced (on proof by its key).
        package var isReenrollment: Bool
    }

    /// Enrolls a connector, or re-enrolls the one a proof names: one transaction that spends a use of the
    /// enrollment token, creates or updates the connector and records `connector.enrolled` or
    /// `connector.reenrolled`. A re-enrollment ends the connector's streams everywhere (`disconnect`).
    ///
    /// - Parameters:
    ///   - admit: Counts the enrollment against the rate limits of its token and tenant, once the token is known.
    /// - Throws: ``ConnectorError`` for a token, proof or signing key that does not hold (a device enrollment
    ///   token is refused as an invalid one); `QuotaExceeded` when the tenant has its quota of connectors.
    package func enroll(
        _ request: Enrollment, from origin: EndpointService.Origin, admit: (TenantID) throws -> Void
    ) async throws -> Enrolled {
        let credential = try await database.readWithoutTenant(logger: origin.logger) { tx in
            try await tx.enrollmentTokens.credential(for: request.secret.id)
        }
        guard let credential, request.secret.matches(credential.secretHash), credential.purpose == .connector else {
            throw ConnectorError.invalidEnrollmentToken
        }
        try admit(credential.tenant)
        let caller = Caller(
            principal: nil,
            actor: AuditRecord.Actor(
                id: request.secret.id.rawValue, name: "enrollment token", requestID: origin.requestID,
                clientIP: origin.clientIP
            ),
            logger: origin.logger
        )
        do {
            return try await database.withTenant(credential.tenant, msp: credential.msp, logger: origin.logger) { tx in
                try await enroll(request, tenant: credential.tenant, by: caller, in: tx, now: now())
            }
        } catch StoreError.alreadyExists {
            // Another enrollment registered the same signing key meanwhile.
            throw ConnectorError.signingKeyTaken
        }
    }

    private func enroll(
        _ request: Enrollment, tenant: TenantID, by caller: Caller, in tx: Transaction, now: Date
    ) async throws -> Enrolled {
        guard try await tx.enrollmentTokens.use(tenant, id: request.secret.id, at: now) else {
            throw ConnectorError.invalidEnrollmentToken
        }
        let existing = try await request.proof.asyncMap { proof in
            try await provenConnector(proof, of: request, tenant: tenant, in: tx, now: now)
        }
        guard !(try await tx.connectors.isSigningKeyTaken(tenant, request.signingKey, excluding: existing?.id)) else {
            throw ConnectorError.signingKeyTaken
        }
        let token = existing.map { ConnectorToken.generate(for: $0.id) } ?? ConnectorToken.generate()
        let connector = Connector(
            id: token.id, name: request.name, hostname: request.hostname, version: request.version,
            protocolVersion: request.protocolVersion, signingKey: request.signingKey,
            enrolledAt: existing?.enrolledAt ?? now, lastSeenAt: existing?.lastSeenAt,
            lastSeenIP: existing?.lastSeenIP, domainControllers: existing?.domainControllers ?? "[]",
            tokenExpiresAt: now.addingTimeInterval(limits.tokenLifetime)
        )
        if existing != nil {
            try await tx.connectors.reenroll(
                connector, in: tenant, tokenHash: token.secretHash, enrollmentToken: request.secret.id
            )
        } else {
            try await tx.quotas.admitOne(more: .connectors, in: tenant, limit: limits.connectorsPerTenant)
            try await tx.connectors.create(
                connector, in: tenant, tokenHash: token.secretHash, enrollmentToken: request.secret.id
            )
        }
        try await tx.audit.record(
            existing != nil ? "connector.reenrolled" : "connector.enrolled", on: ("connector", connector.id.description),
            before: existing?.auditSnapshot, after: connector.auditSnapshot, by: caller, at: now, in: .tenant(tenant)
        )
        if existing != nil {
            // The streams opened with the old key's token end everywhere.
            try await tx.changeFeed.disconnect(tenant, connectors: [connector.id])
        }
        return Enrolled(connector: connector, token: token.string, tenant: tenant, isReenrollment: existing != nil)
    }

    /// The connector a re-enrollment proof names, once the proof holds: a fresh challenge signed by the
    /// connector's current key over the new key's thumbprint.
    private func provenConnector(
        _ proof: Enrollment.Proof, of request: Enrollment, tenant: TenantID, in tx: Transaction, now: Date
    ) async throws -> Connector {
        guard let challengeExpiry = try requireChallenges().expiry(of: proof.nonce, now: now) else {
            throw ConnectorError.staleProofChallenge
        }
        let connector: Connector
        do {
            connector = try await tx.connectors.get(tenant, id: proof.connector)
        } catch StoreError.notFound {
            throw ConnectorError.unknownProofConnector
        }
        guard connector.revokedAt == nil else { throw ConnectorError.unknownProofConnector }
        let message = ConnectorProtocol.reenrollmentMessage(
            nonce: proof.nonce, connectorID: proof.connector.description,
            newKeyThumbprint: Connector.thumbprint(request.signingKey)
        )
        guard EndpointService.verifies(proof.signature, by: connector.signingKey, over: Data(message.utf8)) else {
            throw ConnectorError.invalidProofSignature
        }
        guard
            try await tx.agentChallenges.spend(
                nonceHash: EndpointService.hash(proof.nonce), expiresAt: challengeExpiry, now: now
            )
        else { throw ConnectorError.staleProofChallenge }
        return connector
    }
}

extension Optional {
    /// The wrapped value transformed by an async closure.
    fileprivate func asyncMap<Mapped>(_ transform: (Wrapped) async throws -> Mapped) async rethrows -> Mapped? {
        guard let self else { return nil }
        return try await transform(self)
    }
}

extension Connector {
    /// The RFC 7638 thumbprint of the connector's Ed25519 key.
    package var signingKeyThumbprint: String { Self.thumbprint(signingKey) }

    /// The RFC 7638 thumbprint of a raw Ed25519 public key.
    package static func thumbprint(_ key: Data) -> String {
        (try? JWK(curve: .ed25519, x: key).thumbprint) ?? ""
    }

    /// What the audit log keeps of a connector: never its token hash.
    package var auditSnapshot: String {
        var snapshot: [String: any Sendable] = [
            "id": id.description, "name": name, "hostname": hostname, "version": version,
            "signing_key_thumbprint": signingKeyThumbprint,
        ]
        if let revokedAt { snapshot["revoked_at"] = revokedAt.ISO8601Format() }
        return AuditJSON.encode(snapshot)
    }
}
