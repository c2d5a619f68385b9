import CharterCore
import CharterServices
import CharterStore
import Foundation
import OpenAPIRuntime

extension APIHandler {
    func listTenants(_ input: Operations.ListTenants.Input) async throws -> Operations.ListTenants.Output {
        let scope = try RequestScope.require()
        let msp = try Input.mspID(input.path.msp)
        try scope.principal.authorizeMSP(.read, msp: msp)
        let limit = try Input.limit(input.query.limit)
        let cursor = try Cursor.decodeID(input.query.cursor, as: TenantID.self)
        let tenants = try await database.withMSP(msp, logger: scope.logger) { tx in
            try await tx.tenants.list(msp: msp, after: cursor, limit: limit + 1)
        }
        let page = tenants.prefix(limit)
        let next = tenants.count > limit ? page.last.map { $0.id.description } : nil
        return .ok(.init(body: .json(.init(items: page.map(Components.Schemas.Tenant.init), nextCursor: next))))
    }

    func createTenant(_ input: Operations.CreateTenant.Input) async throws -> Operations.CreateTenant.Output {
        let scope = try RequestScope.require()
        let msp = try Input.mspID(input.path.msp)
        try scope.principal.authorizeMSP(.manageTenants, msp: msp)
        guard case .json(let body) = input.body else { throw Problem(.unsupportedMediaType, "Send application/json.") }
        let name = try Input.name(body.name)
        let now = now()
        let tenant = Tenant(id: .random(), mspID: msp, name: name, version: 1, createdAt: now, updatedAt: now)
        do {
            try await database.withMSP(msp, logger: scope.logger) { tx in
                _ = try await tx.msps.get(msp)
                try await tx.tenants.create(tenant)
                try await tx.enterTenant(tenant.id)
                try await tx.audit.append(
                    AuditRecord(
                        occurredAt: now,
                        actor: scope.actor,
                        action: "tenant.created",
                        targetType: "tenant",
                        targetID: tenant.id.description,
                        after: tenant.auditSnapshot
                    ),
                    to: .tenant(tenant.id)
                )
            }
        } catch StoreError.alreadyExists {
            throw Problem(.conflict, "The MSP already has a tenant named '\(name)'.", field: "/name")
        }
        return .created(.init(headers: .init(eTag: ETag.value(tenant.version)), body: .json(.init(tenant))))
    }

    func getTenant(_ input: Operations.GetTenant.Input) async throws -> Operations.GetTenant.Output {
        let scope = try RequestScope.require()
        let tenantID = try Input.tenantID(input.path.tenant)
        let msp = scope.principal.scope.mspID
        try scope.principal.authorize(.read, tenant: tenantID, of: msp)
        let tenant = try await database.withTenant(tenantID, msp: msp, logger: scope.logger) { tx in
            try await tx.tenants.get(tenantID)
        }
        return .ok(.init(headers: .init(eTag: ETag.value(tenant.version)), body: .json(.init(tenant))))
    }

    func updateTenant(_ input: Operations.UpdateTenant.Input) async throws -> Operations.UpdateTenant.Output {
        let scope = try RequestScope.require()
        let tenantID = try Input.tenantID(input.path.tenant)
        let msp = try Self.authorizeTenantManagement(tenantID, scope: scope)
        guard case .json(let body) = input.body else { throw Problem(.unsupportedMediaType, "Send application/json.") }
        let name = try Input.name(body.name)
        let expected = ETag.expectedVersion(input.headers.ifMatch)
        let now = now()
        let updated: Tenant
        do {
            updated = try await database.withTenant(tenantID, msp: msp, logger: scope.logger) { tx in
                let before = try await tx.tenants.get(tenantID)
                let after = try await tx.tenants.rename(tenantID, to: name, expectedVersion: expected, at: now)
                try await tx.audit.append(
                    AuditRecord(
                        occurredAt: now,
                        actor: scope.actor,
                        action: "tenant.renamed",
                        targetType: "tenant",
                        targetID: tenantID.description,
                        before: before.auditSnapshot,
                        after: after.auditSnapshot
                    ),
                    to: .tenant(tenantID)
                )
                return after
            }
        } catch StoreError.alreadyExists {
            throw Problem(.conflict, "The MSP already has a tenant named '\(name)'.", field: "/name")
        }
        return .ok(.init(headers: .init(eTag: ETag.value(updated.version)), body: .json(.init(updated))))
    }

    func deleteTenant(_ input: Operations.DeleteTenant.Input) async throws -> Operations.DeleteTenant.Output {
        let scope = try RequestScope.require()
        let tenantID = try Input.tenantID(input.path.tenant)
        let msp = try Self.authorizeTenantManagement(tenantID, scope: scope)
        let expected = ETag.expectedVersion(input.headers.ifMatch)
        let now = now()
        try await database.withTenant(tenantID, msp: msp, logger: scope.logger) { tx in
            let before = try await tx.tenants.delete(tenantID, expectedVersion: expected, at: now)
            try await tx.audit.append(
                AuditRecord(
                    occurredAt: now,
                    actor: scope.actor,
                    action: "tenant.deleted",
                    targetType: "tenant",
                    targetID: tenantID.description,
                    before: before.auditSnapshot
                ),
                to: .tenant(tenantID)
            )
        }
        return .noContent(.init())
    }
}

extension APIHandler {
    /// Renaming or deleting a tenant: the tenant must be visible to the key (else 404) and the key must be an
    /// MSP-wide owner (else 403). Returns the MSP the tenant belongs to.
    fileprivate static func authorizeTenantManagement(_ tenant: TenantID, scope: RequestScope) throws -> MSPID {
        let msp = scope.principal.scope.mspID
        try scope.principal.authorize(.read, tenant: tenant, of: msp)
        try scope.principal.authorizeMSP(.manageTenants, msp: msp)
        return msp
    }
}

extension Components.Schemas.Tenant {
    init(_ tenant: Tenant) {
        self.init(
            id: tenant.id.description,
            mspId: tenant.mspID.description,
            name: tenant.name,
            version: tenant.version,
            createdAt: tenant.createdAt,
            updatedAt: tenant.updatedAt
        )
    }
}

extension Tenant {
    /// What the audit log keeps of a tenant.
    var auditSnapshot: String {
        AuditJSON.encode(["id": id.description, "name": name, "version": version])
    }
}
