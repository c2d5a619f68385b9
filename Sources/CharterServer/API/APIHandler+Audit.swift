import CharterCore
import CharterStore
import Foundation
import OpenAPIRuntime

extension APIHandler {
    func listTenantAuditEvents(
        _ input: Operations.ListTenantAuditEvents.Input
    ) async throws -> Operations.ListTenantAuditEvents.Output {
        let scope = try RequestScope.require()
        let tenant = try Input.tenantID(input.path.tenant)
        let msp = scope.principal.scope.mspID
        try scope.principal.authorize(.read, tenant: tenant, of: msp)
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

    private static func page(_ events: [AuditEvent], limit: Int) throws -> Components.Schemas.AuditEventList {
        let page = events.prefix(limit)
        let next = events.count > limit ? page.last.map { Cursor.encode(String($0.sequence)) } : nil
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
            hash: event.hash.map { String(format: "%02x", $0) }.joined(),
            previousHash: event.previousHash.map { String(format: "%02x", $0) }.joined()
        )
    }
}
