import CharterCore
import CharterServices
import CharterStore
import Foundation
import Logging
import OpenAPIRuntime

extension APIHandler {
    func listTenantAuditEvents(
        _ input: Operations.ListTenantAuditEvents.Input
    ) async throws -> Operations.ListTenantAuditEvents.Output {
        let call = try TenantCall.authorize(.read, tenant: input.path.tenant)
        let query = input.query
        _ = try Input.text(query.action, field: "action", maxLength: 100)
        let filter = AuditService.Filter(action: query.action, from: query.from, until: query.until)
        switch query.format {
        case .csv:
            return .ok(.init(body: .csv(exportAuditEvents(filter, of: call, as: .csv))))
        case .jsonl:
            return .ok(.init(body: .applicationJsonl(exportAuditEvents(filter, of: call, as: .jsonLines))))
        case .json, nil:
            break
        }
        let limit = try Input.limit(query.limit)
        let events = try await audit.events(
            of: call.tenant, msp: call.msp, matching: filter, before: try Cursor.decodeSequence(query.cursor),
            limit: limit + 1, by: call.caller
        )
        return .ok(.init(body: .json(try Self.page(events, limit: limit))))
    }

    func verifyTenantAuditEvents(
        _ input: Operations.VerifyTenantAuditEvents.Input
    ) async throws -> Operations.VerifyTenantAuditEvents.Output {
        let call = try TenantCall.authorize(.read, tenant: input.path.tenant)
        let verification = try await audit.verify(call.tenant, msp: call.msp, by: call.caller)
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
        let call = try MSPCall.authorize(.read, msp: input.path.msp)
        let limit = try Input.limit(input.query.limit)
        let cursor = try Cursor.decodeSequence(input.query.cursor)
        let events = try await audit.events(ofMSP: call.msp, before: cursor, limit: limit + 1, by: call.caller)
        return .ok(.init(body: .json(try Self.page(events, limit: limit))))
    }

    /// The whole filtered log, oldest first, read page by page (each in its own tenant transaction) as the
    /// answer is written, never ahead of it (``AuditExportPages``); an error after the first page ends the
    /// stream early (the client sees a truncated body, never a mix of two formats).
    private func exportAuditEvents(
        _ filter: AuditService.Filter, of call: TenantCall, as format: AuditExport.Format
    ) -> HTTPBody {
        let (audit, tenant, msp, logger) = (audit, call.tenant, call.msp, call.logger)
        let pages = AuditExportPages(format: format, pageSize: AuditExportPages.defaultPageSize) { after, limit in
            do {
                return try await audit.exportPage(
                    of: tenant, msp: msp, matching: filter, after: after, limit: limit, logger: logger
                )
            } catch {
                logger.warning("audit export ended early", metadata: ["error": "\(String(reflecting: error))"])
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
                clientIp: record.actor.clientIP,
                issuer: record.actor.person?.issuer,
                subject: record.actor.person?.subject,
                email: record.actor.person?.email
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
        "target_id", "before", "after", "previous_hash", "hash", "actor_issuer", "actor_subject", "actor_email",
    ]

    static let csvHeader = columns.joined(separator: ",") + "\r\n"

    static func line(_ event: AuditEvent, as format: Format) throws -> String {
        let record = event.record
        let values: [String?] = [
            String(event.sequence), record.id.description,
            record.occurredAt.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true)),
            record.actor.id?.uuidString.lowercased(), record.actor.name, record.actor.requestID, record.actor.clientIP,
            record.action, record.targetType, record.targetID, record.before, record.after,
            Hex.string(event.previousHash), Hex.string(event.hash), record.actor.person?.issuer,
            record.actor.person?.subject, record.actor.person?.email,
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
