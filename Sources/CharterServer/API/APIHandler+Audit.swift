import CharterCore
import CharterStore
import Foundation
import Logging
import OpenAPIRuntime

extension APIHandler {
    func listTenantAuditEvents(
        _ input: Operations.ListTenantAuditEvents.Input
    ) async throws -> Operations.ListTenantAuditEvents.Output {
        let scope = try RequestScope.require()
        let tenant = try Input.tenantID(input.path.tenant)
        let msp = scope.principal.scope.mspID
        try scope.principal.authorize(.read, tenant: tenant, of: msp)
        _ = try Input.text(input.query.action, field: "action", maxLength: 100)
        switch input.query.format {
        case .csv:
            return .ok(.init(body: .csv(exportAuditEvents(tenant, msp: msp, query: input.query, scope: scope, as: .csv))))
        case .jsonl:
            return .ok(
                .init(body: .applicationJsonl(exportAuditEvents(tenant, msp: msp, query: input.query, scope: scope, as: .jsonLines)))
            )
        case .json, nil:
            break
        }
        let limit = try Input.limit(input.query.limit)
        let cursor = try Cursor.decodeSequence(input.query.cursor)
        let events = try await database.withTenant(tenant, msp: msp, logger: scope.logger) { tx in
            try await tx.audit.list(
                .tenant(tenant),
                before: cursor,
                limit: limit + 1,
                action: input.query.action,
                from: input.query.from,
                until: input.query.until
            )
        }
        return .ok(.init(body: .json(try Self.page(events, limit: limit))))
    }

    func verifyTenantAuditEvents(
        _ input: Operations.VerifyTenantAuditEvents.Input
    ) async throws -> Operations.VerifyTenantAuditEvents.Output {
        let scope = try RequestScope.require()
        let tenant = try Input.tenantID(input.path.tenant)
        let msp = scope.principal.scope.mspID
        try scope.principal.authorize(.read, tenant: tenant, of: msp)
        let verification = try await database.withTenant(tenant, msp: msp, logger: scope.logger) { tx in
            try await tx.audit.verify(.tenant(tenant))
        }
        return .ok(
            .init(
                body: .json(
                    .init(
                        valid: verification.firstBreak == nil,
                        eventsChecked: verification.eventsChecked,
                        firstBrokenSequence: verification.firstBreak?.sequence,
                        reason: verification.firstBreak?.reason
                    )
                )
            )
        )
    }

    func listMSPAuditEvents(
        _ input: Operations.ListMSPAuditEvents.Input
    ) async throws -> Operations.ListMSPAuditEvents.Output {
        let scope = try RequestScope.require()
        let msp = try Input.mspID(input.path.msp)
        try scope.principal.authorizeMSP(.read, msp: msp)
        let limit = try Input.limit(input.query.limit)
        let cursor = try Cursor.decodeSequence(input.query.cursor)
        let events = try await database.withMSP(msp, logger: scope.logger) { tx in
            try await tx.audit.list(.msp(msp), before: cursor, limit: limit + 1)
        }
        return .ok(.init(body: .json(try Self.page(events, limit: limit))))
    }

    /// The whole filtered log, oldest first, read page by page (each in its own tenant transaction) as the
    /// answer is written, never ahead of it (``AuditExportPages``); an error after the first page ends the
    /// stream early (the client sees a truncated body, never a mix of two formats).
    private func exportAuditEvents(
        _ tenant: TenantID, msp: MSPID, query: Operations.ListTenantAuditEvents.Input.Query, scope: RequestScope,
        as format: AuditExport.Format
    ) -> HTTPBody {
        let database = database
        let pages = AuditExportPages(format: format, pageSize: AuditExportPages.defaultPageSize) { after, limit in
            do {
                return try await database.withTenant(tenant, msp: msp, logger: scope.logger) { tx in
                    try await tx.audit.list(
                        .tenant(tenant), before: nil, after: after, limit: limit, action: query.action,
                        from: query.from, until: query.until
                    )
                }
            } catch {
                scope.logger.warning("audit export ended early", metadata: ["error": "\(String(reflecting: error))"])
                throw error
            }
        }
        return HTTPBody(pages, length: .unknown, iterationBehavior: .single)
    }

    private static func page(_ events: [AuditEvent], limit: Int) throws -> Components.Schemas.AuditEventList {
        let page = events.prefix(limit)
        let next = events.count > limit ? page.last.map { String($0.sequence) } : nil
        return .init(items: try page.map(Components.Schemas.AuditEvent.init), nextCursor: next)
    }
}

extension Components.Schemas.AuditEvent {
    init(_ event: AuditEvent) throws {
        let record = event.record
        func object(_ json: String?) throws -> OpenAPIObjectContainer? {
            try json.map { try JSONDecoder().decode(OpenAPIObjectContainer.self, from: Data($0.utf8)) }
        }
        self.init(
            id: record.id.description,
            sequence: event.sequence,
            occurredAt: record.occurredAt,
            actor: .init(
                id: record.actor.id?.uuidString.lowercased(),
                name: record.actor.name,
                requestId: record.actor.requestID,
                clientIp: record.actor.clientIP
            ),
            action: record.action,
            targetType: record.targetType,
            targetId: record.targetID,
            before: try object(record.before),
            after: try object(record.after),
            hash: Hex.string(event.hash),
            previousHash: Hex.string(event.previousHash)
        )
    }
}

/// Audit events as export lines.
enum AuditExport {
    enum Format {
        case csv, jsonLines
    }

    static let columns = [
        "sequence", "id", "occurred_at", "actor_id", "actor_name", "request_id", "client_ip", "action", "target_type",
        "target_id", "before", "after", "previous_hash", "hash",
    ]

    static let csvHeader = columns.joined(separator: ",") + "\r\n"

    static func line(_ event: AuditEvent, as format: Format) throws -> String {
        let record = event.record
        let values: [String?] = [
            String(event.sequence), record.id.description, record.occurredAt.ISO8601Format(.iso8601.time(includingFractionalSeconds: true)),
            record.actor.id?.uuidString.lowercased(), record.actor.name, record.actor.requestID, record.actor.clientIP,
            record.action, record.targetType, record.targetID, record.before, record.after,
            Hex.string(event.previousHash), Hex.string(event.hash),
        ]
        switch format {
        case .csv:
            return values.map { csvField($0 ?? "") }.joined(separator: ",") + "\r\n"
        case .jsonLines:
            let object = try Components.Schemas.AuditEvent(event)
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            encoder.dateEncodingStrategy = .iso8601
            return String(decoding: try encoder.encode(object), as: UTF8.self) + "\n"
        }
    }


    /// RFC 4180 quoting; a cell a spreadsheet would read as a formula gets a leading `'` (OWASP CSV injection).
    static func csvField(_ value: String) -> String {
        var value = value
        if let first = value.first, "=+-@\t\r".contains(first) { value = "'" + value }
        guard value.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return value }
        return "\"" + value.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}
