import CharterCore
import CharterStore
import Foundation
import OpenAPIRuntime

extension APIHandler {
    // MARK: - Global settings

    func getSettings(_ input: Operations.GetSettings.Input) async throws -> Operations.GetSettings.Output {
        let scope = try RequestScope.require()
        let tenant = try Input.tenantID(input.path.tenant)
        let msp = scope.principal.scope.mspID
        try scope.principal.authorize(.read, tenant: tenant, of: msp)
        let stored = try await database.withTenant(tenant, msp: msp, logger: scope.logger) { tx in
            try await tx.settings.get(tenant)
        }
        return .ok(
            .init(
                headers: .init(eTag: ETag.value(stored.version)),
                body: .json(try PolicyDocuments.settingsDocument(stored.settings))
            )
        )
    }

    func replaceSettings(_ input: Operations.ReplaceSettings.Input) async throws -> Operations.ReplaceSettings.Output {
        let scope = try RequestScope.require()
        let tenant = try Input.tenantID(input.path.tenant)
        let msp = scope.principal.scope.mspID
        try scope.principal.authorize(.configure, tenant: tenant, of: msp)
        let settings = try PolicyDocuments.settings(from: try DocumentBody.require())
        let expected = ETag.expectedVersion(input.headers.ifMatch)
        let now = now()
        let stored = try await database.withTenant(tenant, msp: msp, logger: scope.logger) { tx in
            let policyBefore = try await PolicyChanges.snapshot(of: tenant, in: tx)
            let (before, after) = try await tx.settings.replace(
                tenant,
                with: settings,
                expectedVersion: expected,
                by: scope.actor,
                at: now
            )
            try await tx.audit.append(
                AuditRecord(
                    occurredAt: now,
                    actor: scope.actor,
                    action: "settings.replaced",
                    targetType: "settings",
                    targetID: tenant.description,
                    before: before.auditSnapshot,
                    after: after.auditSnapshot
                ),
                to: .tenant(tenant)
            )
            try await PolicyChanges.publish(of: tenant, from: policyBefore, in: tx)
            return after
        }
        return .ok(
            .init(
                headers: .init(eTag: ETag.value(stored.version)),
                body: .json(try PolicyDocuments.settingsDocument(stored.settings))
            )
        )
    }

    // MARK: - Subsettings

    func listSubsettings(_ input: Operations.ListSubsettings.Input) async throws -> Operations.ListSubsettings.Output {
        let scope = try RequestScope.require()
        let tenant = try Input.tenantID(input.path.tenant)
        let msp = scope.principal.scope.mspID
        try scope.principal.authorize(.read, tenant: tenant, of: msp)
        let list = try await database.withTenant(tenant, msp: msp, logger: scope.logger) { tx in
            try await tx.subsettings.list(tenant)
        }
        return .ok(.init(body: .json(.init(items: try list.map(Components.Schemas.Subsetting.init)))))
    }

    func createSubsetting(_ input: Operations.CreateSubsetting.Input) async throws -> Operations.CreateSubsetting.Output
    {
        let scope = try RequestScope.require()
        let tenant = try Input.tenantID(input.path.tenant)
        let msp = scope.principal.scope.mspID
        try scope.principal.authorize(.configure, tenant: tenant, of: msp)
        let (subsetting, document) = try PolicyDocuments.subsetting(from: try DocumentBody.require(), id: .random())
        let now = now()
        let stored = try await database.withTenant(tenant, msp: msp, logger: scope.logger) { tx in
            try await ScopeCheck.requireKnown(subsetting.scope, document: document, tenant: tenant, tx: tx)
            let policyBefore = try await PolicyChanges.snapshot(of: tenant, in: tx)
            let created: StoredSubsetting
            do {
                created = try await tx.subsettings.create(tenant, subsetting, at: input.query.position, now: now)
            } catch PolicyStoreError.positionOutOfRange(_, let maximum) {
                throw Problem(.validationFailed, "position must be between 0 and \(maximum).", field: "position")
            }
            try await tx.audit.append(
                AuditRecord(
                    occurredAt: now,
                    actor: scope.actor,
                    action: "subsetting.created",
                    targetType: "subsetting",
                    targetID: subsetting.id.description,
                    after: created.auditSnapshot
                ),
                to: .tenant(tenant)
            )
            try await PolicyChanges.publish(of: tenant, from: policyBefore, in: tx)
            return created
        }
        return .created(
            .init(headers: .init(eTag: ETag.value(stored.version)), body: .json(try .init(stored)))
        )
    }

    func getSubsetting(_ input: Operations.GetSubsetting.Input) async throws -> Operations.GetSubsetting.Output {
        let scope = try RequestScope.require()
        let tenant = try Input.tenantID(input.path.tenant)
        let msp = scope.principal.scope.mspID
        try scope.principal.authorize(.read, tenant: tenant, of: msp)
        let id = try Input.subsettingID(input.path.id)
        let stored = try await database.withTenant(tenant, msp: msp, logger: scope.logger) { tx in
            try await tx.subsettings.get(tenant, id: id)
        }
        return .ok(.init(headers: .init(eTag: ETag.value(stored.version)), body: .json(try .init(stored))))
    }

    func replaceSubsetting(
        _ input: Operations.ReplaceSubsetting.Input
    ) async throws -> Operations.ReplaceSubsetting.Output {
        let scope = try RequestScope.require()
        let tenant = try Input.tenantID(input.path.tenant)
        let msp = scope.principal.scope.mspID
        try scope.principal.authorize(.configure, tenant: tenant, of: msp)
        let id = try Input.subsettingID(input.path.id)
        let (subsetting, document) = try PolicyDocuments.subsetting(from: try DocumentBody.require(), id: id)
        let expected = ETag.expectedVersion(input.headers.ifMatch)
        let stored = try await database.withTenant(tenant, msp: msp, logger: scope.logger) { tx in
            try await ScopeCheck.requireKnown(subsetting.scope, document: document, tenant: tenant, tx: tx)
            return try await update(tenant, to: subsetting, expectedVersion: expected, scope: scope, tx: tx)
        }
        return .ok(.init(headers: .init(eTag: ETag.value(stored.version)), body: .json(try .init(stored))))
    }

    func updateSubsetting(_ input: Operations.UpdateSubsetting.Input) async throws -> Operations.UpdateSubsetting.Output
    {
        let scope = try RequestScope.require()
        let tenant = try Input.tenantID(input.path.tenant)
        let msp = scope.principal.scope.mspID
        try scope.principal.authorize(.configure, tenant: tenant, of: msp)
        let id = try Input.subsettingID(input.path.id)
        let body = try DocumentBody.require()
        let expected = ETag.expectedVersion(input.headers.ifMatch)
        let stored = try await database.withTenant(tenant, msp: msp, logger: scope.logger) { tx in
            let current = try await tx.subsettings.get(tenant, id: id, forUpdate: true)
            let (subsetting, document) = try PolicyDocuments.subsetting(
                from: body,
                id: id,
                patching: current.subsetting
            )
            try await ScopeCheck.requireKnown(subsetting.scope, document: document, tenant: tenant, tx: tx)
            return try await update(tenant, to: subsetting, expectedVersion: expected, scope: scope, tx: tx)
        }
        return .ok(.init(headers: .init(eTag: ETag.value(stored.version)), body: .json(try .init(stored))))
    }

    /// Stores an edited subsetting and audits it, in the caller's transaction.
    private func update(
        _ tenant: TenantID,
        to subsetting: Subsetting,
        expectedVersion: Int64?,
        scope: RequestScope,
        tx: Transaction
    ) async throws -> StoredSubsetting {
        let now = now()
        let policyBefore = try await PolicyChanges.snapshot(of: tenant, in: tx)
        let (before, after) = try await tx.subsettings.update(
            tenant,
            subsetting,
            expectedVersion: expectedVersion,
            now: now
        )
        try await tx.audit.append(
            AuditRecord(
                occurredAt: now,
                actor: scope.actor,
                action: "subsetting.updated",
                targetType: "subsetting",
                targetID: subsetting.id.description,
                before: before.auditSnapshot,
                after: after.auditSnapshot
            ),
            to: .tenant(tenant)
        )
        try await PolicyChanges.publish(of: tenant, from: policyBefore, in: tx)
        return after
    }

    func deleteSubsetting(_ input: Operations.DeleteSubsetting.Input) async throws -> Operations.DeleteSubsetting.Output
    {
        let scope = try RequestScope.require()
        let tenant = try Input.tenantID(input.path.tenant)
        let msp = scope.principal.scope.mspID
        try scope.principal.authorize(.configure, tenant: tenant, of: msp)
        let id = try Input.subsettingID(input.path.id)
        let expected = ETag.expectedVersion(input.headers.ifMatch)
        let now = now()
        try await database.withTenant(tenant, msp: msp, logger: scope.logger) { tx in
            let policyBefore = try await PolicyChanges.snapshot(of: tenant, in: tx)
            let before = try await tx.subsettings.delete(tenant, id: id, expectedVersion: expected)
            try await tx.audit.append(
                AuditRecord(
                    occurredAt: now,
                    actor: scope.actor,
                    action: "subsetting.deleted",
                    targetType: "subsetting",
                    targetID: id.description,
                    before: before.auditSnapshot
                ),
                to: .tenant(tenant)
            )
            try await PolicyChanges.publish(of: tenant, from: policyBefore, in: tx)
        }
        return .noContent(.init())
    }

    func reorderSubsettings(
        _ input: Operations.ReorderSubsettings.Input
    ) async throws -> Operations.ReorderSubsettings.Output {
        let scope = try RequestScope.require()
        let tenant = try Input.tenantID(input.path.tenant)
        let msp = scope.principal.scope.mspID
        try scope.principal.authorize(.configure, tenant: tenant, of: msp)
        guard case .json(let body) = input.body else { throw Problem(.unsupportedMediaType, "Send application/json.") }
        let ids = try Input.subsettingOrder(body.ids)
        let now = now()
        let list = try await database.withTenant(tenant, msp: msp, logger: scope.logger) { tx in
            let policyBefore = try await PolicyChanges.snapshot(of: tenant, in: tx)
            let before: [StoredSubsetting]
            let after: [StoredSubsetting]
            do {
                (before, after) = try await tx.subsettings.reorder(tenant, to: ids)
            } catch PolicyStoreError.orderMismatch(let mismatch) {
                throw Problem(mismatch)
            }
            try await tx.audit.append(
                AuditRecord(
                    occurredAt: now,
                    actor: scope.actor,
                    action: "subsettings.reordered",
                    targetType: "subsettings",
                    targetID: tenant.description,
                    before: StoredSubsetting.orderSnapshot(before),
                    after: StoredSubsetting.orderSnapshot(after)
                ),
                to: .tenant(tenant)
            )
            try await PolicyChanges.publish(of: tenant, from: policyBefore, in: tx)
            return after
        }
        return .ok(.init(body: .json(.init(items: try list.map(Components.Schemas.Subsetting.init)))))
    }

    // MARK: - Effective policy

    func getEffectivePolicy(
        _ input: Operations.GetEffectivePolicy.Input
    ) async throws -> Operations.GetEffectivePolicy.Output {
        let scope = try RequestScope.require()
        let tenant = try Input.tenantID(input.path.tenant)
        let msp = scope.principal.scope.mspID
        try scope.principal.authorize(.read, tenant: tenant, of: msp)
        let user = try input.query.user.map { try Input.objectGUID($0, field: "user") }
        let computer = try input.query.computer.map { try Input.objectGUID($0, field: "computer") }
        let explanation = try await database.withTenant(tenant, msp: msp, logger: scope.logger) { tx in
            try await EffectivePolicyLookup.explain(user: user, computer: computer, of: tenant, in: tx)
        }
        return .ok(.init(body: .json(try .init(explanation, user: user, computer: computer))))
    }
}

extension Input {
    /// An objectGUID parameter.
    static func objectGUID(_ raw: String, field: String) throws -> ObjectGUID {
        guard let guid = ObjectGUID(raw) else {
            throw Problem(.malformedRequest, "\(field) must be an objectGUID such as 4f3c2a1e-….", field: field)
        }
        return guid
    }

    static func subsettingID(_ raw: String) throws -> SubsettingID {
        guard let id = SubsettingID(raw) else {
            throw Problem(.malformedRequest, "The subsetting id must be a UUID.", field: "id")
        }
        return id
    }

    /// The ids of a reorder request, each a UUID.
    static func subsettingOrder(_ raw: [String]) throws -> [SubsettingID] {
        try raw.enumerated().map { index, text in
            guard let id = SubsettingID(text) else {
                throw Problem(.validationFailed, "'\(text)' is not a subsetting id.", field: "/ids/\(index)")
            }
            return id
        }
    }
}

extension Problem {
    /// The 422 for an order that does not name every subsetting exactly once.
    init(_ mismatch: SubsettingOrderMismatch) {
        switch mismatch {
        case .duplicate(let id, let index):
            self.init(.validationFailed, "Subsetting \(id) is listed more than once.", field: "/ids/\(index)")
        case .unknown(let id, let index):
            self.init(.validationFailed, "The tenant has no subsetting \(id).", field: "/ids/\(index)")
        case .missing(let id):
            self.init(
                .validationFailed,
                "Subsetting \(id) is missing from the order; list every subsetting.",
                field: "/ids"
            )
        }
    }
}
