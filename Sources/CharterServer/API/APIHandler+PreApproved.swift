import CharterCore
import CharterJSON
import CharterServices
import CharterStore
import Foundation
import OpenAPIRuntime

/// The routes of the lists of pre-approved applications: the global settings', a subsetting's and a baseline's
/// library, one shape over the owning document (docs/policy.md, "Pre-approved application routes").
extension APIHandler {
    // MARK: - The global settings' list

    func listPreApprovedApplications(
        _ input: Operations.ListPreApprovedApplications.Input
    ) async throws -> Operations.ListPreApprovedApplications.Output {
        let call = try TenantCall.authorize(.read, tenant: input.path.tenant)
        return .ok(try await readList(.settings, call))
    }

    func createPreApprovedApplication(
        _ input: Operations.CreatePreApprovedApplication.Input
    ) async throws -> Operations.CreatePreApprovedApplication.Output {
        let call = try TenantCall.authorize(.configure, tenant: input.path.tenant)
        return .created(try await edit(.settings, call, .create(from: DocumentBody.require()), input.headers.ifMatch))
    }

    func getPreApprovedApplication(
        _ input: Operations.GetPreApprovedApplication.Input
    ) async throws -> Operations.GetPreApprovedApplication.Output {
        let call = try TenantCall.authorize(.read, tenant: input.path.tenant)
        return .ok(try await readEntry(input.path.entry, of: .settings, call))
    }

    func replacePreApprovedApplication(
        _ input: Operations.ReplacePreApprovedApplication.Input
    ) async throws -> Operations.ReplacePreApprovedApplication.Output {
        let call = try TenantCall.authorize(.configure, tenant: input.path.tenant)
        let edit = try PreApprovedEdit.replace(Input.preApprovedEntryID(input.path.entry), from: DocumentBody.require())
        return .ok(try await self.edit(.settings, call, edit, input.headers.ifMatch))
    }

    func deletePreApprovedApplication(
        _ input: Operations.DeletePreApprovedApplication.Input
    ) async throws -> Operations.DeletePreApprovedApplication.Output {
        let call = try TenantCall.authorize(.configure, tenant: input.path.tenant)
        _ = try await edit(.settings, call, .delete(Input.preApprovedEntryID(input.path.entry)), input.headers.ifMatch)
        return .noContent(.init())
    }

    // MARK: - A subsetting's list

    func listSubsettingPreApprovedApplications(
        _ input: Operations.ListSubsettingPreApprovedApplications.Input
    ) async throws -> Operations.ListSubsettingPreApprovedApplications.Output {
        let call = try TenantCall.authorize(.read, tenant: input.path.tenant)
        return .ok(try await readList(.subsetting(Input.subsettingID(input.path.id)), call))
    }

    func createSubsettingPreApprovedApplication(
        _ input: Operations.CreateSubsettingPreApprovedApplication.Input
    ) async throws -> Operations.CreateSubsettingPreApprovedApplication.Output {
        let call = try TenantCall.authorize(.configure, tenant: input.path.tenant)
        let list = PolicyService.PreApprovedList.subsetting(try Input.subsettingID(input.path.id))
        return .created(try await edit(list, call, .create(from: DocumentBody.require()), input.headers.ifMatch))
    }

    func getSubsettingPreApprovedApplication(
        _ input: Operations.GetSubsettingPreApprovedApplication.Input
    ) async throws -> Operations.GetSubsettingPreApprovedApplication.Output {
        let call = try TenantCall.authorize(.read, tenant: input.path.tenant)
        return .ok(try await readEntry(input.path.entry, of: .subsetting(Input.subsettingID(input.path.id)), call))
    }

    func replaceSubsettingPreApprovedApplication(
        _ input: Operations.ReplaceSubsettingPreApprovedApplication.Input
    ) async throws -> Operations.ReplaceSubsettingPreApprovedApplication.Output {
        let call = try TenantCall.authorize(.configure, tenant: input.path.tenant)
        let list = PolicyService.PreApprovedList.subsetting(try Input.subsettingID(input.path.id))
        let edit = try PreApprovedEdit.replace(Input.preApprovedEntryID(input.path.entry), from: DocumentBody.require())
        return .ok(try await self.edit(list, call, edit, input.headers.ifMatch))
    }

    func deleteSubsettingPreApprovedApplication(
        _ input: Operations.DeleteSubsettingPreApprovedApplication.Input
    ) async throws -> Operations.DeleteSubsettingPreApprovedApplication.Output {
        let call = try TenantCall.authorize(.configure, tenant: input.path.tenant)
        let list = PolicyService.PreApprovedList.subsetting(try Input.subsettingID(input.path.id))
        _ = try await edit(list, call, .delete(Input.preApprovedEntryID(input.path.entry)), input.headers.ifMatch)
        return .noContent(.init())
    }

    // MARK: - A baseline's library

    func listBaselinePreApprovedApplications(
        _ input: Operations.ListBaselinePreApprovedApplications.Input
    ) async throws -> Operations.ListBaselinePreApprovedApplications.Output {
        let call = try MSPCall.authorize(.read, msp: input.path.msp)
        let list = try await baselines.library(of: Input.baselineID(input.path.id), msp: call.msp, by: call.caller)
        return .ok(try .init(list))
    }

    func createBaselinePreApprovedApplication(
        _ input: Operations.CreateBaselinePreApprovedApplication.Input
    ) async throws -> Operations.CreateBaselinePreApprovedApplication.Output {
        let call = try MSPCall.authorize(.configure, msp: input.path.msp)
        let edit = try PreApprovedEdit.create(from: DocumentBody.require())
        return .created(try await self.edit(library: input.path.id, call, edit, input.headers.ifMatch))
    }

    func getBaselinePreApprovedApplication(
        _ input: Operations.GetBaselinePreApprovedApplication.Input
    ) async throws -> Operations.GetBaselinePreApprovedApplication.Output {
        let call = try MSPCall.authorize(.read, msp: input.path.msp)
        let list = try await baselines.library(of: Input.baselineID(input.path.id), msp: call.msp, by: call.caller)
        return .ok(try .init(list.entry(Input.preApprovedEntryID(input.path.entry))))
    }

    func replaceBaselinePreApprovedApplication(
        _ input: Operations.ReplaceBaselinePreApprovedApplication.Input
    ) async throws -> Operations.ReplaceBaselinePreApprovedApplication.Output {
        let call = try MSPCall.authorize(.configure, msp: input.path.msp)
        let edit = try PreApprovedEdit.replace(Input.preApprovedEntryID(input.path.entry), from: DocumentBody.require())
        return .ok(try await self.edit(library: input.path.id, call, edit, input.headers.ifMatch))
    }

    func deleteBaselinePreApprovedApplication(
        _ input: Operations.DeleteBaselinePreApprovedApplication.Input
    ) async throws -> Operations.DeleteBaselinePreApprovedApplication.Output {
        let call = try MSPCall.authorize(.configure, msp: input.path.msp)
        let edit = PreApprovedEdit.delete(try Input.preApprovedEntryID(input.path.entry))
        _ = try await self.edit(library: input.path.id, call, edit, input.headers.ifMatch)
        return .noContent(.init())
    }

    // MARK: - Shared

    private func readList(
        _ list: PolicyService.PreApprovedList, _ call: TenantCall
    ) async throws -> Components.Responses.PreApprovedApplicationList {
        let read = try await policy.preApprovedApplications(in: list, of: call.tenant, msp: call.msp, by: call.caller)
        // Only a subsetting's list says whether it is its own.
        if case .subsetting = list { return try .init(read, inherited: read.isInherited) }
        return try .init(read)
    }

    private func readEntry(
        _ raw: String, of list: PolicyService.PreApprovedList, _ call: TenantCall
    ) async throws -> Components.Responses.PreApprovedApplication {
        let id = try Input.preApprovedEntryID(raw)
        let read = try await policy.preApprovedApplications(in: list, of: call.tenant, msp: call.msp, by: call.caller)
        return try .init(read.entry(id))
    }

    private func edit(
        _ list: PolicyService.PreApprovedList, _ call: TenantCall, _ edit: PreApprovedEdit, _ ifMatch: String?
    ) async throws -> Components.Responses.PreApprovedApplication {
        try .init(
            await policy.editPreApprovedApplications(
                in: list, of: call.tenant, msp: call.msp, edit, expectedVersion: ETag.expectedVersion(ifMatch),
                by: call.caller
            )
        )
    }

    private func edit(
        library raw: String, _ call: MSPCall, _ edit: PreApprovedEdit, _ ifMatch: String?
    ) async throws -> Components.Responses.PreApprovedApplication {
        try .init(
            await baselines.editLibrary(
                of: Input.baselineID(raw), msp: call.msp, edit, expectedVersion: ETag.expectedVersion(ifMatch),
                by: call.caller
            )
        )
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

extension Components.Responses.PreApprovedApplicationList {
    /// A list as read, with the owning document's version as the ETag.
    init(_ list: PreApprovedEntries, inherited: Bool? = nil) throws {
        self.init(
            headers: .init(eTag: ETag.value(list.version)),
            body: .json(.init(items: try list.entries.map(PolicyDocuments.preApprovedDocument), inherited: inherited))
        )
    }
}

extension Components.Responses.PreApprovedApplication {
    /// One entry, with the owning document's version as the ETag.
    init(_ found: PreApprovedEntry) throws {
        self.init(
            headers: .init(eTag: ETag.value(found.version)),
            body: .json(try PolicyDocuments.preApprovedDocument(found.entry))
        )
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
