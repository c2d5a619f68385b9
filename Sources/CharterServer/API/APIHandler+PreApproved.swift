import CharterCore
import CharterJSON
import CharterServices
import CharterStore
import Foundation
import OpenAPIRuntime

extension APIHandler {
    func listPreApprovedApplications(
        _ input: Operations.ListPreApprovedApplications.Input
    ) async throws -> Operations.ListPreApprovedApplications.Output {
        let call = try TenantCall.authorize(.read, tenant: input.path.tenant)
        let (entries, version) = try await policy.preApprovedApplications(
            of: call.tenant, msp: call.msp, by: call.caller)
        return .ok(
            .init(
                headers: .init(eTag: ETag.value(version)),
                body: .json(.init(items: try entries.map(PolicyDocuments.preApprovedDocument)))
            )
        )
    }

    func createPreApprovedApplication(
        _ input: Operations.CreatePreApprovedApplication.Input
    ) async throws -> Operations.CreatePreApprovedApplication.Output {
        let call = try TenantCall.authorize(.configure, tenant: input.path.tenant)
        let created = try await policy.createPreApprovedApplication(
            of: call.tenant, msp: call.msp, from: try DocumentBody.require(),
            expectedVersion: ETag.expectedVersion(input.headers.ifMatch), by: call.caller
        )
        return .created(
            .init(
                headers: .init(eTag: ETag.value(created.settingsVersion)),
                body: .json(try PolicyDocuments.preApprovedDocument(created.entry))
            )
        )
    }

    func getPreApprovedApplication(
        _ input: Operations.GetPreApprovedApplication.Input
    ) async throws -> Operations.GetPreApprovedApplication.Output {
        let call = try TenantCall.authorize(.read, tenant: input.path.tenant)
        let id = try Input.preApprovedEntryID(input.path.entry)
        let found = try await policy.preApprovedApplication(id, of: call.tenant, msp: call.msp, by: call.caller)
        return .ok(
            .init(
                headers: .init(eTag: ETag.value(found.settingsVersion)),
                body: .json(try PolicyDocuments.preApprovedDocument(found.entry))
            )
        )
    }

    func replacePreApprovedApplication(
        _ input: Operations.ReplacePreApprovedApplication.Input
    ) async throws -> Operations.ReplacePreApprovedApplication.Output {
        let call = try TenantCall.authorize(.configure, tenant: input.path.tenant)
        let id = try Input.preApprovedEntryID(input.path.entry)
        let replaced = try await policy.replacePreApprovedApplication(
            id, of: call.tenant, msp: call.msp, with: try DocumentBody.require(),
            expectedVersion: ETag.expectedVersion(input.headers.ifMatch), by: call.caller
        )
        return .ok(
            .init(
                headers: .init(eTag: ETag.value(replaced.settingsVersion)),
                body: .json(try PolicyDocuments.preApprovedDocument(replaced.entry))
            )
        )
    }

    func deletePreApprovedApplication(
        _ input: Operations.DeletePreApprovedApplication.Input
    ) async throws -> Operations.DeletePreApprovedApplication.Output {
        let call = try TenantCall.authorize(.configure, tenant: input.path.tenant)
        let id = try Input.preApprovedEntryID(input.path.entry)
        try await policy.deletePreApprovedApplication(
            id, of: call.tenant, msp: call.msp, expectedVersion: ETag.expectedVersion(input.headers.ifMatch),
            by: call.caller
        )
        return .noContent(.init())
    }
}

extension Input {
    /// The id of a pre-approved entry in a path.
    static func preApprovedEntryID(_ raw: String) throws -> UUID {
        guard let id = UUID(uuidString: raw) else {
            throw Problem(.malformedRequest, "The entry id must be a UUID.", field: "entry")
        }
        return id
    }
}

extension PolicyDocuments {
    /// A pre-approved entry as the generated type, read back through the schema as settings documents are.
    static func preApprovedDocument(
        _ entry: Settings.PreApprovedApplication
    ) throws -> Components.Schemas.PreApprovedApplication {
        try JSONDecoder().decode(Components.Schemas.PreApprovedApplication.self, from: entry.json.canonicalData)
    }
}
