package import CharterCore
import CharterJSON
import Foundation
import PostgresNIO

extension AuditLog {
    /// Appends records to the chains of many tenants of the MSP selected on the transaction (migration
    /// 0025), as ``append(_:to:)`` would one by one, in two statements: the chains' locks taken and their heads
    /// read in one, the events inserted in the other, their sequence numbers and hashes computed here between
    /// the two. The tenants must be live tenants of the transaction's MSP and none selected.
    ///
    /// The chain locks are taken in the order the tenants first appear in `records`: callers that lock several
    /// chains list them in one order (tenant id), so two of them never wait on each other.
    ///
    /// - Returns: The events as stored, in the order of `records`.
    @discardableResult
    package func append(_ records: [(tenant: TenantID, record: AuditRecord)]) async throws -> [AuditEvent] {
        guard !records.isEmpty else { return [] }
        var seen: Set<TenantID> = []
        let tenants = records.map(\.tenant).filter { seen.insert($0).inserted }
        let heads = try await tx.query(
            """
            SELECT tenant_id, seq, hash FROM charter_private.batch_lock_audit_heads(\(tenants.map(\.rawValue))::uuid[])
            """
        )
        var head: [TenantID: (Int64, [UInt8])] = [:]
        for try await (tenant, seq, hash) in heads.decode((UUID, Int64, Data).self) {
            head[TenantID(tenant)] = (seq, Array(hash))
        }
        var events: [AuditEvent] = []
        var rows: [JSONValue] = []
        for (tenant, record) in records {
            let (last, previousHash) = head[tenant] ?? (0, AuditChain.genesis)
            let micros = AuditChain.microseconds(record.occurredAt)
            let hash = AuditChain.hash(
                scope: tenant.rawValue, sequence: last + 1, record: record, occurredAtMicroseconds: micros,
                previousHash: previousHash
            )
            head[tenant] = (last + 1, hash)
            var stored = record
            stored.occurredAt = Date(timeIntervalSince1970: Double(micros) / 1_000_000)
            events.append(AuditEvent(sequence: last + 1, record: stored, previousHash: previousHash, hash: hash))
            rows.append(
                Self.row(tenant: tenant, sequence: last + 1, record: record, micros: micros, hashes: (previousHash, hash))
            )
        }
        let json = String(decoding: JSONValue.array(rows).canonicalData, as: UTF8.self)
        try await tx.query(
            """
            SELECT charter_private.batch_append_audit_events(\(tenants.map(\.rawValue))::uuid[], \(json)::jsonb)
            """
        )
        return events
    }

    /// One event as `batch_append_audit_events` reads it: the columns of `audit_events`, hashes in hex.
    private static func row(
        tenant: TenantID, sequence: Int64, record: AuditRecord, micros: Int64, hashes: ([UInt8], [UInt8])
    ) -> JSONValue {
        func text(_ value: String?) -> JSONValue { value.map(JSONValue.string) ?? .null }
        func hex(_ bytes: [UInt8]) -> JSONValue { .string(bytes.map { String(format: "%02x", $0) }.joined()) }
        return .object([
            "tenant_id": .string(tenant.description), "seq": .integer(sequence), "id": .string(record.id.description),
            "occurred_at_us": .integer(micros), "actor_id": text(record.actor.id?.uuidString.lowercased()),
            "actor_name": .string(record.actor.name), "action": .string(record.action),
            "target_type": .string(record.targetType), "target_id": .string(record.targetID),
            "before": text(record.before), "after": text(record.after), "request_id": text(record.actor.requestID),
            "client_ip": text(record.actor.clientIP), "prev_hash": hex(hashes.0), "hash": hex(hashes.1),
            "actor_issuer": text(record.actor.person?.issuer), "actor_subject": text(record.actor.person?.subject),
            "actor_email": text(record.actor.person?.email),
        ])
    }
}
