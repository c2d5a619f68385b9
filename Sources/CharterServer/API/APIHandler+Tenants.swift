import CharterCore
import CharterServices
import CharterStore
import Foundation
import OpenAPIRuntime

extension APIHandler {
    func listTenants(_ input: Operations.ListTenants.Input) async throws -> Operations.ListTenants.Output {
        let call = try MSPCall.authorize(.read, msp: input.path.msp)
        let limit = try Input.limit(input.query.limit)
        let cursor = try Cursor.decodeID(input.query.cursor, as: TenantID.self)
        let tenants = try await tenancy.tenants(of: call.msp, after: cursor, limit: limit + 1, by: call.caller)
        let page = tenants.prefix(limit)
        let next = tenants.count > limit ? page.last.map { $0.id.description } : nil
        return .ok(.init(body: .json(.init(items: page.map(Components.Schemas.Tenant.init), nextCursor: next))))
    }

    func createTenant(_ input: Operations.CreateTenant.Input) async throws -> Operations.CreateTenant.Output {
        let call = try MSPCall.authorize(.manageTenants, msp: input.path.msp)
        guard case .json(let body) = input.body else { throw Problem(.unsupportedMediaType, "Send application/json.") }
        let tenant = try await tenancy.createTenant(named: try Input.name(body.name), in: call.msp, by: call.caller)
        return .created(.init(headers: .init(eTag: ETag.value(tenant.version)), body: .json(.init(tenant))))
    }

    func getTenant(_ input: Operations.GetTenant.Input) async throws -> Operations.GetTenant.Output {
        let call = try TenantCall.authorize(.read, tenant: input.path.tenant)
        let tenant = try await tenancy.tenant(call.tenant, msp: call.msp, by: call.caller)
        return .ok(.init(headers: .init(eTag: ETag.value(tenant.version)), body: .json(.init(tenant))))
    }

    func updateTenant(_ input: Operations.UpdateTenant.Input) async throws -> Operations.UpdateTenant.Output {
        let call = try Self.authorizeTenantManagement(input.path.tenant)
        guard case .json(let body) = input.body else { throw Problem(.unsupportedMediaType, "Send application/json.") }
        let updated = try await tenancy.renameTenant(
            call.tenant, msp: call.msp, to: try Input.name(body.name),
            expectedVersion: ETag.expectedVersion(input.headers.ifMatch), by: call.caller
        )
        return .ok(.init(headers: .init(eTag: ETag.value(updated.version)), body: .json(.init(updated))))
    }

    func deleteTenant(_ input: Operations.DeleteTenant.Input) async throws -> Operations.DeleteTenant.Output {
        let call = try Self.authorizeTenantManagement(input.path.tenant)
        try await tenancy.deleteTenant(
            call.tenant, msp: call.msp, expectedVersion: ETag.expectedVersion(input.headers.ifMatch), by: call.caller
        )
        return .noContent(.init())
    }

    /// Renaming or deleting a tenant: the tenant must be visible to the key (else 404) and the key must be an
    /// MSP-wide owner (else 403).
    private static func authorizeTenantManagement(_ raw: String) throws -> TenantCall {
        let call = try TenantCall.authorize(.read, tenant: raw)
        try call.scope.principal.authorizeMSP(.manageTenants, msp: call.msp)
        return call
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
