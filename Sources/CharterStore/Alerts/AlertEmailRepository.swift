package import CharterCore
package import Foundation
import PostgresNIO

/// An address alerts are emailed to (docs/alerts.md, "Email"), and the alert events it wants.
package struct AlertEmail: Hashable, Sendable {
    /// Whose recipient it is: a tenant's, of its own alerts, or an MSP's, of all its tenants' (migration 0024).
    package enum Owner: Hashable, Sendable {
        case tenant(TenantID)
        case msp(MSPID)

        /// The owner's audit chain.
        package var chain: AuditLog.Chain {
            switch self {
            case .tenant(let tenant): .tenant(tenant)
            case .msp(let msp): .msp(msp)
            }
        }

        /// The table and its owner column (constant SQL), and the owner's id.
        var storage: (table: String, column: String, id: UUID) {
            switch self {
            case .tenant(let tenant): ("tenant_alert_emails", "tenant_id", tenant.rawValue)
            case .msp(let msp): ("msp_alert_emails", "msp_id", msp.rawValue)
            }
        }
    }

    package var id: UUID
    package var address: String
    package var events: [String]
    package var isEnabled: Bool
    package var createdAt: Date

    package init(id: UUID, address: String, events: [String], isEnabled: Bool, createdAt: Date) {
        self.id = id
        self.address = address
        self.events = events
        self.isEnabled = isEnabled
        self.createdAt = createdAt
    }
}

/// A tenant's or an MSP's alert email recipients. An MSP's are seen only by an MSP-wide transaction
/// (``Database/withMSP(_:logger:_:)``); the tenant's transaction queues their emails through
/// ``EmailRepository/enqueueForMSP(alert:subject:body:at:)``.
package struct AlertEmailRepository: Sendable {
    let tx: Transaction
    let owner: AlertEmail.Owner

    package func create(_ recipient: AlertEmail, by principal: UUID?) async throws {
        let (table, column, owner) = owner.storage
        try await tx.query(
            """
            INSERT INTO \(unescaped: table) (\(unescaped: column), id, address, events, enabled, created_at, created_by)
            VALUES (\(owner), \(recipient.id), \(recipient.address), \(recipient.events), \(recipient.isEnabled),
                    \(recipient.createdAt), \(principal))
            """
        )
    }

    /// Takes the owner's lock for creating recipients until commit, then counts them.
    ///
    /// - Throws: ``QuotaExceeded`` when the owner has `limit` or more already.
    package func admitOne(limit: Int) async throws {
        let (table, column, id) = owner.storage
        try await tx.query(
            "SELECT pg_advisory_xact_lock(hashtextextended(\("quota:\(table):\(id.uuidString)"), 0))"
        )
        let rows = try await tx.query(
            "SELECT count(*) FROM \(unescaped: table) WHERE \(unescaped: column) = \(id)"
        )
        for try await count in rows.decode(Int64.self) where count >= Int64(limit) {
            throw QuotaExceeded(quota: .alertEmails, limit: limit, isMSP: owner != .tenant(TenantID(id)))
        }
    }

    package func list() async throws -> [AlertEmail] {
        try await recipients(id: nil)
    }

    /// One recipient; with `locking`, its row stays locked until commit (an update reads what it replaces).
    ///
    /// - Throws: ``StoreError/notFound``.
    package func get(_ id: UUID, locking: Bool = false) async throws -> AlertEmail {
        guard let recipient = try await recipients(id: id, locking: locking).first else { throw StoreError.notFound }
        return recipient
    }

    /// Stores the recipient's address, events and `enabled`.
    package func update(_ recipient: AlertEmail) async throws {
        let (table, column, owner) = owner.storage
        try await tx.query(
            """
            UPDATE \(unescaped: table)
            SET address = \(recipient.address), events = \(recipient.events), enabled = \(recipient.isEnabled)
            WHERE \(unescaped: column) = \(owner) AND id = \(recipient.id)
            """
        )
    }

    /// - Returns: the recipient deleted.
    /// - Throws: ``StoreError/notFound``.
    package func delete(_ id: UUID) async throws -> AlertEmail {
        let recipient = try await get(id)
        let (table, column, owner) = owner.storage
        try await tx.query("DELETE FROM \(unescaped: table) WHERE \(unescaped: column) = \(owner) AND id = \(id)")
        return recipient
    }

    /// The addresses of the enabled recipients of `event`, each once, in order.
    package func addresses(for event: String) async throws -> [String] {
        let (table, column, owner) = owner.storage
        let rows = try await tx.query(
            """
            SELECT DISTINCT address FROM \(unescaped: table)
            WHERE \(unescaped: column) = \(owner) AND enabled AND \(event) = ANY(events)
            ORDER BY address
            """
        )
        var addresses: [String] = []
        for try await address in rows.decode(String.self) { addresses.append(address) }
        return addresses
    }

    private func recipients(id: UUID?, locking: Bool = false) async throws -> [AlertEmail] {
        let (table, column, owner) = owner.storage
        let rows = try await tx.query(
            """
            SELECT id, address, events, enabled, created_at FROM \(unescaped: table)
            WHERE \(unescaped: column) = \(owner) AND (\(id)::uuid IS NULL OR id = \(id))
            ORDER BY created_at, id \(unescaped: locking ? "FOR UPDATE" : "")
            """
        )
        var recipients: [AlertEmail] = []
        for try await (id, address, events, enabled, created) in rows.decode((UUID, String, [String], Bool, Date).self) {
            recipients.append(AlertEmail(id: id, address: address, events: events, isEnabled: enabled, createdAt: created))
        }
        return recipients
    }
}

extension Transaction {
    /// The alert email recipients of `owner`.
    package func alertEmails(of owner: AlertEmail.Owner) -> AlertEmailRepository {
        AlertEmailRepository(tx: self, owner: owner)
    }
}
