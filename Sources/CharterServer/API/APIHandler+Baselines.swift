import CharterCore
import CharterServices
import CharterStore
import Foundation
import OpenAPIRuntime

extension APIHandler {
    // MARK: - An MSP's baselines

    func listBaselines(_ input: Operations.ListBaselines.Input) async throws -> Operations.ListBaselines.Output {
        let call = try MSPCall.authorize(.read, msp: input.path.msp)
        let list = try await baselines.baselines(of: call.msp, by: call.caller)
        return .ok(.init(body: .json(.init(items: try list.map(Components.Schemas.Baseline.init)))))
    }

    func createBaseline(_ input: Operations.CreateBaseline.Input) async throws -> Operations.CreateBaseline.Output {
        let call = try MSPCall.authorize(.configure, msp: input.path.msp)
        let stored = try await baselines.createBaseline(of: call.msp, from: try DocumentBody.require(), by: call.caller)
        return .created(.init(headers: .init(eTag: ETag.value(stored.version)), body: .json(try .init(stored))))
    }

    func getBaseline(_ input: Operations.GetBaseline.Input) async throws -> Operations.GetBaseline.Output {
        let call = try MSPCall.authorize(.read, msp: input.path.msp)
        let stored = try await baselines.baseline(try Input.baselineID(input.path.id), of: call.msp, by: call.caller)
        return .ok(.init(headers: .init(eTag: ETag.value(stored.version)), body: .json(try .init(stored))))
    }

    func replaceBaseline(_ input: Operations.ReplaceBaseline.Input) async throws -> Operations.ReplaceBaseline.Output {
        let call = try MSPCall.authorize(.configure, msp: input.path.msp)
        let stored = try await baselines.replaceBaseline(
            try Input.baselineID(input.path.id), of: call.msp, with: try DocumentBody.require(),
            expectedVersion: ETag.expectedVersion(input.headers.ifMatch), by: call.caller
        )
        return .ok(.init(headers: .init(eTag: ETag.value(stored.version)), body: .json(try .init(stored))))
    }

    func deleteBaseline(_ input: Operations.DeleteBaseline.Input) async throws -> Operations.DeleteBaseline.Output {
        let call = try MSPCall.authorize(.configure, msp: input.path.msp)
        try await baselines.deleteBaseline(
            try Input.baselineID(input.path.id), of: call.msp,
            expectedVersion: ETag.expectedVersion(input.headers.ifMatch), by: call.caller
        )
        return .noContent(.init())
    }

    // MARK: - A tenant's baselines

    func getTenantBaselines(
        _ input: Operations.GetTenantBaselines.Input
    ) async throws -> Operations.GetTenantBaselines.Output {
        let call = try TenantCall.authorize(.read, tenant: input.path.tenant)
        let list = try await baselines.assigned(to: call.tenant, msp: call.msp, by: call.caller)
        return .ok(.init(body: .json(try .init(list))))
    }

    func assignTenantBaselines(
        _ input: Operations.AssignTenantBaselines.Input
    ) async throws -> Operations.AssignTenantBaselines.Output {
        let call = try TenantCall.authorize(.configure, tenant: input.path.tenant)
        // Which baselines shape a tenant is the MSP's decision, never the tenant's own keys'.
        try call.scope.principal.authorizeMSP(.configure, msp: call.msp)
        guard case .json(let body) = input.body else { throw Problem(.unsupportedMediaType, "Send application/json.") }
        let ids = try Input.baselineIDs(body.ids)
        let list = try await baselines.assign(ids, to: call.tenant, msp: call.msp, by: call.caller)
        return .ok(.init(body: .json(try .init(list))))
    }

    func getBaselineDrift(_ input: Operations.GetBaselineDrift.Input) async throws -> Operations.GetBaselineDrift.Output {
        let call = try TenantCall.authorize(.read, tenant: input.path.tenant)
        let composition = try await baselines.drift(of: call.tenant, msp: call.msp, by: call.caller)
        return .ok(.init(body: .json(try .init(composition))))
    }
}

extension Input {
    static func baselineID(_ raw: String) throws -> BaselineID {
        guard let id = BaselineID(raw) else {
            throw Problem(.malformedRequest, "The baseline id must be a UUID.", field: "id")
        }
        return id
    }

    /// The ids of an assignment, each a UUID.
    static func baselineIDs(_ raw: [String]) throws -> [BaselineID] {
        try raw.enumerated().map { index, text in
            guard let id = BaselineID(text) else {
                throw Problem(.validationFailed, "'\(text)' is not a baseline id.", field: "/ids/\(index)")
            }
            return id
        }
    }
}
