package import CharterCore
package import Foundation
import PostgresNIO

/// The append-only, hash-chained audit logs: one per tenant and one per MSP.
///
/// The service's role may only `SELECT` and `INSERT` these tables; appends to one chain are serialised by a
/// transaction-scoped advisory lock so sequence numbers and links never fork.
package struct AuditLog: Sendable {
    let tx: Transaction

    /// Which chain an event belongs to.
    package enum Chain: Hashable, Sendable {
        case tenant(TenantID)
        case msp(MSPID)

        var table: String {
            switch self {
            case .tenant: "audit_events"
            case .msp: "msp_audit_events"
            }
        }

        var scopeColumn: String {
            switch self {
            case .tenant: "tenant_id"
            case .msp: "msp_id"
            }
        }

        var scopeID: UUID {
            switch self {
            case .tenant(let id): id.rawValue
            case .msp(let id): id.rawValue
            }
        }
    }

    /// Where verification found the chain broken.
    package struct Break: Hashable, Sendable {
        package var sequence: Int64
        package var reason: String
    }

    /// The outcome of verifying a chain.
    package struct Verification: Hashable, Sendable {
        package var eventsChecked: Int
        package var firstBreak: Break?
    }

    private typealias Row = (
        Int64, UUID, Int64, UUID?, String, String, String, String, String?, String?, String?, String?,
        Data, Data, String?, String?, String?
    )

    private static let columns = """
        seq, id, (extract(epoch FROM occurred_at) * 1000000)::bigint, actor_id, actor_name, action,
        target_type, target_id, before, after, request_id, client_ip, prev_hash, hash, actor_issuer, actor_subject,
        actor_email
        """

    private static func event(_ row: Row) -> (AuditEvent, occurredAtMicroseconds: Int64) {
        let record = AuditRecord(
            id: AuditEventID(row.1),
            occurredAt: Date(timeIntervalSince1970: Double(row.2) / 1_000_000),
            actor: AuditRecord.Actor(
                id: row.3, name: row.4, requestID: row.10, clientIP: row.11,
                person: row.14.map { AuditRecord.Actor.Person(issuer: $0, subject: row.15 ?? "", email: row.16) }
            ),
            action: row.5,
            targetType: row.6,
            targetID: row.7,
            before: row.8,
            after: row.9
        )
        return (AuditEvent(sequence: row.0, record: record, previousHash: Array(row.12), hash: Array(row.13)), row.2)
    }

    /// Appends a record to the end of a chain and returns it as stored.
    @discardableResult
    package func append(_ record: AuditRecord, to chain: Chain) async throws -> AuditEvent {
        let lockKey = "audit:\(chain.scopeID.uuidString.lowercased())"
        try await tx.query("SELECT pg_advisory_xact_lock(hashtextextended(\(lockKey), 0))")
        let head = try await tx.query(
            """
            SELECT seq, hash FROM \(unescaped: chain.table) WHERE \(unescaped: chain.scopeColumn) = \(chain.scopeID)
            ORDER BY seq DESC LIMIT 1
            """
        )
        var sequence: Int64 = 1
        var previousHash = AuditChain.genesis
        for try await (seq, hash) in head.decode((Int64, Data).self) {
            sequence = seq + 1
            previousHash = Array(hash)
        }
        let micros = AuditChain.microseconds(record.occurredAt)
        let hash = AuditChain.hash(
            scope: chain.scopeID,
            sequence: sequence,
            record: record,
            occurredAtMicroseconds: micros,
            previousHash: previousHash
        )
        try await tx.query(
            """
            INSERT INTO \(unescaped: chain.table) (\(unescaped: chain.scopeColumn), seq, id, occurred_at, actor_id,
                actor_name, action, target_type, target_id, before, after, request_id, client_ip, prev_hash, hash,
                actor_issuer, actor_subject, actor_email)
            VALUES (\(chain.scopeID), \(sequence), \(record.id.rawValue),
                'epoch'::timestamptz + \(micros) * interval '1 microsecond', \(record.actor.id),
                \(record.actor.name), \(record.action), \(record.targetType), \(record.targetID), \(record.before),
                \(record.after), \(record.actor.requestID), \(record.actor.clientIP), \(Data(previousHash)), \(Data(hash)),
                \(record.actor.person?.issuer), \(record.actor.person?.subject), \(record.actor.person?.email))
            """
        )
        var stored = record
        stored.occurredAt = Date(timeIntervalSince1970: Double(micros) / 1_000_000)
        return AuditEvent(sequence: sequence, record: stored, previousHash: previousHash, hash: hash)
    }

    /// A page of events: newest first before the sequence number `cursor`, or, with `after`, oldest first
    /// after that sequence number (for exports).
    package func list(
        _ chain: Chain,
        before cursor: Int64?,
        after: Int64? = nil,
        limit: Int,
        action: String? = nil,
        from: Date? = nil,
        until: Date? = nil
    ) async throws -> [AuditEvent] {
        let rows = try await tx.query(
            """
            SELECT \(unescaped: Self.columns) FROM \(unescaped: chain.table)
            WHERE \(unescaped: chain.scopeColumn) = \(chain.scopeID)
              AND (\(cursor)::bigint IS NULL OR seq < \(cursor))
              AND (\(after)::bigint IS NULL OR seq > \(after))
              AND (\(action)::text IS NULL OR action = \(action))
              AND (\(from)::timestamptz IS NULL OR occurred_at >= \(from))
              AND (\(until)::timestamptz IS NULL OR occurred_at < \(until))
            ORDER BY seq \(unescaped: after == nil ? "DESC" : "ASC") LIMIT \(limit)
            """
        )
        var events: [AuditEvent] = []
        for try await row in rows.decode(Row.self) { events.append(Self.event(row).0) }
        return events
    }

    /// Recomputes every link of a chain and reports the first that does not hold.
    package func verify(_ chain: Chain) async throws -> Verification {
        let rows = try await tx.query(
            """
            SELECT \(unescaped: Self.columns) FROM \(unescaped: chain.table)
            WHERE \(unescaped: chain.scopeColumn) = \(chain.scopeID) ORDER BY seq
            """
        )
        var walk = Walk(chain: chain, anchor: .genesis)
        for try await row in rows.decode(Row.self) {
            if let found = walk.check(row) { return Verification(eventsChecked: walk.checked, firstBreak: found) }
        }
        return Verification(eventsChecked: walk.checked, firstBreak: nil)
    }

    /// Where a verification stopped: the last event that verified, with its hash.
    package struct Anchor: Hashable, Sendable {
        package var sequence: Int64
        package var hash: [UInt8]

        package init(sequence: Int64, hash: [UInt8]) {
            self.sequence = sequence
            self.hash = hash
        }

        /// Before the first event.
        package static let genesis = Anchor(sequence: 0, hash: AuditChain.genesis)
    }

    /// Verifies at most `limit` events of a chain after `anchor`, which an earlier verification reached: first
    /// that the anchor's event is still there with the content and hash it had then (its hash recomputed from its
    /// stored content and previous hash), then each following link.
    ///
    /// - Returns: The verification, and the anchor to continue from (the last event that verified).
    package func verify(
        _ chain: Chain, after anchor: Anchor, limit: Int
    ) async throws -> (verification: Verification, reached: Anchor) {
        if anchor.sequence > 0 {
            let stored = try await tx.query(
                """
                SELECT \(unescaped: Self.columns) FROM \(unescaped: chain.table)
                WHERE \(unescaped: chain.scopeColumn) = \(chain.scopeID) AND seq = \(anchor.sequence)
                """
            )
            var unchanged: Bool?
            for try await row in stored.decode(Row.self) {
                let (event, micros) = Self.event(row)
                let recomputed = AuditChain.hash(
                    scope: chain.scopeID, sequence: event.sequence, record: event.record,
                    occurredAtMicroseconds: micros, previousHash: event.previousHash
                )
                unchanged = event.hash == anchor.hash && recomputed == anchor.hash
            }
            guard unchanged == true else {
                let reason = unchanged == nil ? "event \(anchor.sequence) is missing" : "a verified event was changed"
                let found = Break(sequence: anchor.sequence, reason: reason)
                return (Verification(eventsChecked: 0, firstBreak: found), anchor)
            }
        }
        let rows = try await tx.query(
            """
            SELECT \(unescaped: Self.columns) FROM \(unescaped: chain.table)
            WHERE \(unescaped: chain.scopeColumn) = \(chain.scopeID) AND seq > \(anchor.sequence)
            ORDER BY seq LIMIT \(limit)
            """
        )
        var walk = Walk(chain: chain, anchor: anchor)
        for try await row in rows.decode(Row.self) {
            if let found = walk.check(row) {
                return (Verification(eventsChecked: walk.checked, firstBreak: found), walk.reached)
            }
        }
        return (Verification(eventsChecked: walk.checked, firstBreak: nil), walk.reached)
    }

    /// The links of a chain checked one event at a time, in sequence order, from an anchor.
    private struct Walk {
        let chain: Chain
        private(set) var reached: Anchor
        private(set) var checked = 0

        init(chain: Chain, anchor: Anchor) {
            self.chain = chain
            self.reached = anchor
        }

        /// Checks the next event; returns where the chain breaks, or `nil` and moves on.
        mutating func check(_ row: Row) -> Break? {
            let (event, micros) = AuditLog.event(row)
            let expectedSequence = reached.sequence + 1
            checked += 1
            if event.sequence != expectedSequence {
                return Break(sequence: expectedSequence, reason: "event \(expectedSequence) is missing")
            }
            if event.previousHash != reached.hash {
                return Break(sequence: event.sequence, reason: "previous-hash link does not match")
            }
            let recomputed = AuditChain.hash(
                scope: chain.scopeID,
                sequence: event.sequence,
                record: event.record,
                occurredAtMicroseconds: micros,
                previousHash: reached.hash
            )
            if recomputed != event.hash {
                return Break(sequence: event.sequence, reason: "content does not match its hash")
            }
            reached = Anchor(sequence: event.sequence, hash: event.hash)
            return nil
        }
    }
}
