package import CharterCore
package import Foundation
package import Logging
import PostgresNIO

/// Who an idempotency key belongs to: one credential (an API key's principal or a device) of one MSP, and
/// the tenant when the credential is confined to one.
///
/// The transaction that reads or writes its keys must be scoped the same way: ``Database/withTenant(_:msp:logger:_:)``
/// for a tenant, ``Database/withMSP(_:logger:_:)`` for an MSP-wide principal (row-level security shows each
/// only its own rows).
package struct IdempotencyOwner: Hashable, Sendable {
    package var msp: MSPID
    package var tenant: TenantID?
    package var credential: UUID

    package init(msp: MSPID, tenant: TenantID?, credential: UUID) {
        self.msp = msp
        self.tenant = tenant
        self.credential = credential
    }
}

/// The answer kept for a key: what a retry gets back.
package struct StoredAnswer: Hashable, Sendable {
    package var status: Int
    package var contentType: String?
    package var location: String?
    package var etag: String?
    package var body: [UInt8]

    package init(status: Int, contentType: String?, location: String?, etag: String?, body: [UInt8]) {
        self.status = status
        self.contentType = contentType
        self.location = location
        self.etag = etag
        self.body = body
    }
}

/// What claiming a key found.
package enum IdempotencyClaim: Hashable, Sendable {
    /// The key was free (or its earlier use expired or was abandoned): the caller runs the request, then
    /// ``IdempotencyRepository/complete(_:key:with:)`` or ``IdempotencyRepository/release(_:key:)``.
    case claimed
    /// The same request ran before: its answer.
    case replay(StoredAnswer)
    /// The same request is running now, under another claim.
    case running
    /// The key was used for a different request.
    case mismatch
}

/// Idempotency keys of the credential selected on the transaction.
package struct IdempotencyRepository: Sendable {
    let tx: Transaction

    /// Claims `key` for a request with `fingerprint`, or reports what an earlier use left.
    ///
    /// A key whose retention ended, or whose first request held it past `lockedUntil` without an answer (its
    /// process stopped), is taken over as free.
    ///
    /// - Parameters:
    ///   - now: the claim's time.
    ///   - lockedUntil: until when the claim holds the key while the request runs.
    ///   - expiresAt: until when the answer is kept.
    package func claim(
        _ owner: IdempotencyOwner,
        key: String,
        fingerprint: [UInt8],
        now: Date,
        lockedUntil: Date,
        expiresAt: Date
    ) async throws -> IdempotencyClaim {
        try await tx.query(
            """
            DELETE FROM idempotency_keys
            WHERE msp_id = \(owner.msp.rawValue) AND credential_id = \(owner.credential) AND key = \(key)
              AND (expires_at <= \(now) OR (status IS NULL AND locked_until <= \(now)))
            """
        )
        let inserted = try await tx.query(
            """
            INSERT INTO idempotency_keys (msp_id, credential_id, key, tenant_id, fingerprint, created_at, expires_at,
                                          locked_until)
            VALUES (\(owner.msp.rawValue), \(owner.credential), \(key), \(owner.tenant?.rawValue), \(Data(fingerprint)),
                    \(now), \(expiresAt), \(lockedUntil))
            ON CONFLICT (msp_id, credential_id, key) DO NOTHING
            RETURNING 1
            """
        )
        for try await _ in inserted { return .claimed }
        let rows = try await tx.query(
            """
            SELECT fingerprint, status, content_type, location, etag, body FROM idempotency_keys
            WHERE msp_id = \(owner.msp.rawValue) AND credential_id = \(owner.credential) AND key = \(key)
            """
        )
        for try await (stored, status, contentType, location, etag, body) in rows.decode(
            (Data, Int?, String?, String?, String?, Data?).self
        ) {
            guard Array(stored) == fingerprint else { return .mismatch }
            guard let status else { return .running }
            return .replay(
                StoredAnswer(
                    status: status, contentType: contentType, location: location, etag: etag, body: Array(body ?? Data())
                )
            )
        }
        // Released by its claimant between the insert and the read: the caller may try again.
        return .running
    }

    /// Keeps the answer of a claimed key.
    package func complete(_ owner: IdempotencyOwner, key: String, with answer: StoredAnswer) async throws {
        try await tx.query(
            """
            UPDATE idempotency_keys
            SET status = \(answer.status), content_type = \(answer.contentType), location = \(answer.location),
                etag = \(answer.etag), body = \(Data(answer.body))
            WHERE msp_id = \(owner.msp.rawValue) AND credential_id = \(owner.credential) AND key = \(key)
              AND status IS NULL
            """
        )
    }

    /// Frees a claimed key whose request left nothing to replay (it failed), so that a retry runs again.
    package func release(_ owner: IdempotencyOwner, key: String) async throws {
        try await tx.query(
            """
            DELETE FROM idempotency_keys
            WHERE msp_id = \(owner.msp.rawValue) AND credential_id = \(owner.credential) AND key = \(key)
              AND status IS NULL
            """
        )
    }

    /// Deletes the expired keys of every tenant; returns how many.
    ///
    /// Runs `charter_private.idempotency_keys_prune()`, the service role's one way across tenants for this.
    package func pruneExpired() async throws -> Int {
        let rows = try await tx.query("SELECT charter_private.idempotency_keys_prune()")
        for try await count in rows.decode(Int.self) { return count }
        return 0
    }
}

extension Transaction {
    /// The idempotency keys visible in this transaction's scope.
    package var idempotencyKeys: IdempotencyRepository { IdempotencyRepository(tx: self) }
}

extension Database {
    /// Runs `body` in the transaction scope an idempotency key's owner needs (its tenant, or its MSP with no
    /// tenant for an MSP-wide principal).
    package func withIdempotencyOwner<Result: Sendable>(
        _ owner: IdempotencyOwner,
        logger: Logger,
        _ body: (Transaction) async throws -> Result
    ) async throws -> Result {
        if let tenant = owner.tenant {
            return try await withTenant(tenant, msp: owner.msp, logger: logger, body)
        }
        return try await withMSP(owner.msp, logger: logger, body)
    }
}
