package import CharterCore
package import Foundation
import PostgresNIO

/// How far the periodic verification has checked each tenant's audit chain (`audit_chain_states`, migration 0022).
package struct AuditChainStateRepository: Sendable {
    let tx: Transaction

    /// A tenant's stored state.
    package struct State: Hashable, Sendable {
        /// The last event verified.
        package var anchor: AuditLog.Anchor
        package var verifiedAt: Date?
        package var isBroken: Bool
        package var since: Date

        package init(anchor: AuditLog.Anchor, verifiedAt: Date?, isBroken: Bool, since: Date) {
            self.anchor = anchor
            self.verifiedAt = verifiedAt
            self.isBroken = isBroken
            self.since = since
        }
    }

    /// The tenants of any MSP whose chain has events not yet verified (or was never verified), least recently
    /// verified first, at most `limit` of them (`charter_private.audit_chains_to_verify`).
    package func due(limit: Int) async throws -> [(tenant: TenantID, msp: MSPID)] {
        let rows = try await tx.query(
            "SELECT tenant_id, msp_id FROM charter_private.audit_chains_to_verify(\(Int32(clamping: limit)))"
        )
        var due: [(tenant: TenantID, msp: MSPID)] = []
        for try await (tenant, msp) in rows.decode((UUID, UUID).self) { due.append((TenantID(tenant), MSPID(msp))) }
        return due
    }

    /// The tenant's state, locked for this transaction; a first state (nothing verified) is made when there is
    /// none. `nil` when another transaction holds it (another replica verifies the chain now).
    package func claim(_ tenant: TenantID, now: Date) async throws -> State? {
        try await tx.query(
            """
            INSERT INTO audit_chain_states (tenant_id, verified_seq, verified_hash, status, since)
            VALUES (\(tenant.rawValue), 0, \(Data(AuditChain.genesis)), 'ok', \(now))
            ON CONFLICT (tenant_id) DO NOTHING
            """
        )
        let rows = try await tx.query(
            """
            SELECT verified_seq, verified_hash, verified_at, status, since FROM audit_chain_states
            WHERE tenant_id = \(tenant.rawValue) FOR UPDATE SKIP LOCKED
            """
        )
        for try await (sequence, hash, verifiedAt, status, since) in rows.decode((Int64, Data, Date?, String, Date).self) {
            return State(
                anchor: AuditLog.Anchor(sequence: sequence, hash: Array(hash)), verifiedAt: verifiedAt,
                isBroken: status == "broken", since: since
            )
        }
        return nil
    }

    /// Records that the chain verified through `anchor` at `now`.
    package func recordVerified(_ tenant: TenantID, through anchor: AuditLog.Anchor, at now: Date) async throws {
        try await tx.query(
            """
            UPDATE audit_chain_states
            SET verified_seq = \(anchor.sequence), verified_hash = \(Data(anchor.hash)), verified_at = \(now)
            WHERE tenant_id = \(tenant.rawValue)
            """
        )
    }

    /// Records that the chain verified through `anchor` and then broke as `found` says, at `now`.
    package func recordBroken(
        _ tenant: TenantID, through anchor: AuditLog.Anchor, at found: AuditLog.Break, now: Date
    ) async throws {
        try await tx.query(
            """
            UPDATE audit_chain_states
            SET verified_seq = \(anchor.sequence), verified_hash = \(Data(anchor.hash)), verified_at = \(now),
                status = 'broken', since = \(now), broken_seq = \(found.sequence),
                broken_reason = \(String(found.reason.prefix(200)))
            WHERE tenant_id = \(tenant.rawValue)
            """
        )
    }
}

extension Transaction {
    package var auditChainStates: AuditChainStateRepository { AuditChainStateRepository(tx: self) }
}
