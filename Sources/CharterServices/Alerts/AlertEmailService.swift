package import CharterCore
package import CharterStore
package import Foundation

/// The addresses a tenant, or an MSP for all its tenants, has alerts emailed to (docs/alerts.md, "Email"):
/// listed, created, changed and deleted alike for both, each write audited in the owner's chain. Sending is
/// ``AlertEvent``'s and the email worker's. Authorisation is the caller's.
package struct AlertEmailService: Sendable {
    let database: Database
    /// The most recipients one message has (`email_messages.recipients`): every recipient of an alert is in one.
    package static let recipientsPerMessage = 50
    /// Recipients one tenant, or one MSP, may have: `quota.webhooks_per_tenant`, at most ``recipientsPerMessage``.
    let maximumPerOwner: Int
    /// The clock; tests may pin it.
    let now: @Sendable () -> Date

    package init(database: Database, maximumPerOwner: Int, now: @escaping @Sendable () -> Date = { Date() }) {
        self.database = database
        self.maximumPerOwner = min(maximumPerOwner, Self.recipientsPerMessage)
        self.now = now
    }

    package func list(of owner: AlertEmail.Owner, msp: MSPID, by caller: Caller) async throws -> [AlertEmail] {
        try await transaction(owner, msp: msp, caller) { tx in try await tx.alertEmails(of: owner).list() }
    }

    /// - Throws: `StoreError.notFound`.
    package func get(_ id: UUID, of owner: AlertEmail.Owner, msp: MSPID, by caller: Caller) async throws -> AlertEmail {
        try await transaction(owner, msp: msp, caller) { tx in try await tx.alertEmails(of: owner).get(id) }
    }

    /// Adds `address` as a recipient of `events`.
    ///
    /// - Throws: ``AlertEmailError``; `QuotaExceeded` past the owner's quota.
    package func create(
        address: String, events: [String], isEnabled: Bool, of owner: AlertEmail.Owner, msp: MSPID, by caller: Caller
    ) async throws -> AlertEmail {
        let recipient = AlertEmail(
            id: UUID(), address: try Self.validate(address: address), events: try Self.validate(events: events),
            isEnabled: isEnabled, createdAt: now()
        )
        return try await transaction(owner, msp: msp, caller) { tx in
            let repository = tx.alertEmails(of: owner)
            try await repository.admitOne(limit: maximumPerOwner)
            try await repository.create(recipient, by: caller.principal?.id.rawValue)
            try await tx.audit.record(
                Self.action("created", of: owner), on: Self.target(recipient.id, of: owner),
                after: recipient.auditSnapshot, by: caller, at: recipient.createdAt, in: owner.chain
            )
            return recipient
        }
    }

    /// Changes what is given of the recipient's address, events and `enabled`.
    ///
    /// - Throws: ``AlertEmailError``; `StoreError.notFound`.
    package func update(
        _ id: UUID, of owner: AlertEmail.Owner, msp: MSPID, address: String?, events: [String]?, isEnabled: Bool?,
        by caller: Caller
    ) async throws -> AlertEmail {
        let address = try address.map(Self.validate(address:))
        let events = try events.map(Self.validate(events:))
        let now = now()
        return try await transaction(owner, msp: msp, caller) { tx in
            let repository = tx.alertEmails(of: owner)
            let before = try await repository.get(id, locking: true)
            var after = before
            after.address = address ?? before.address
            after.events = events ?? before.events
            after.isEnabled = isEnabled ?? before.isEnabled
            guard after != before else { return before }
            try await repository.update(after)
            try await tx.audit.record(
                Self.action("updated", of: owner), on: Self.target(id, of: owner), before: before.auditSnapshot,
                after: after.auditSnapshot, by: caller, at: now, in: owner.chain
            )
            return after
        }
    }

    /// - Throws: `StoreError.notFound`.
    package func delete(_ id: UUID, of owner: AlertEmail.Owner, msp: MSPID, by caller: Caller) async throws {
        let now = now()
        try await transaction(owner, msp: msp, caller) { tx in
            let recipient = try await tx.alertEmails(of: owner).delete(id)
            try await tx.audit.record(
                Self.action("deleted", of: owner), on: Self.target(id, of: owner), before: recipient.auditSnapshot,
                by: caller, at: now, in: owner.chain
            )
        }
    }

    /// Runs `body` in the owner's transaction: a tenant's, or an MSP-wide one (the only one that sees an MSP's
    /// recipients).
    private func transaction<Result: Sendable>(
        _ owner: AlertEmail.Owner, msp: MSPID, _ caller: Caller, _ body: (Transaction) async throws -> Result
    ) async throws -> Result {
        switch owner {
        case .tenant(let tenant): try await database.withTenant(tenant, msp: msp, logger: caller.logger, body)
        case .msp: try await database.withMSP(msp, logger: caller.logger, body)
        }
    }

    /// `alert_email.created` in a tenant's log, `msp_alert_email.created` in an MSP's.
    private static func action(_ verb: String, of owner: AlertEmail.Owner) -> String {
        "\(targetType(of: owner)).\(verb)"
    }

    private static func target(_ id: UUID, of owner: AlertEmail.Owner) -> (type: String, id: String) {
        (targetType(of: owner), id.uuidString.lowercased())
    }

    private static func targetType(of owner: AlertEmail.Owner) -> String {
        switch owner {
        case .tenant: "alert_email"
        case .msp: "msp_alert_email"
        }
    }

    /// The address, trimmed.
    ///
    /// - Throws: ``AlertEmailError/invalidAddress`` unless it looks like an email address.
    static func validate(address: String) throws -> String {
        let trimmed = address.trimmingCharacters(in: .whitespaces)
        guard trimmed.count <= 254, Settings.Approval.isPlausibleEmail(trimmed) else {
            throw AlertEmailError.invalidAddress
        }
        return trimmed
    }

    /// The events, each once, sorted.
    ///
    /// - Throws: ``AlertEmailError/invalidEvents`` when empty or naming anything but an alert event.
    static func validate(events: [String]) throws -> [String] {
        guard !events.isEmpty, events.allSatisfy(AlertEvent.all.contains) else { throw AlertEmailError.invalidEvents }
        return Array(Set(events)).sorted()
    }
}

/// Why an alert email recipient was refused.
package enum AlertEmailError: RefusalConvertible, Equatable {
    case invalidAddress
    case invalidEvents

    package var refusal: Refusal {
        switch self {
        case .invalidAddress: Refusal(.invalid, "address must be an email address.", field: "/address")
        case .invalidEvents:
            Refusal(
                .invalid, "events must name at least one alert event: \(AlertEvent.all.joined(separator: ", ")).",
                field: "/events"
            )
        }
    }
}

extension AlertEmail {
    /// What the audit log keeps of a recipient.
    package var auditSnapshot: String {
        AuditJSON.encode(["id": id.uuidString.lowercased(), "address": address, "events": events, "enabled": isEnabled])
    }
}
