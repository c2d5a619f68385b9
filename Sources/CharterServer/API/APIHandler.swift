import CharterCore
import CharterServices
import CharterStore
import Foundation
import Hummingbird
import Logging
import OpenAPIHummingbird
import OpenAPIRuntime

/// The admin API: one thin method per operation of `openapi.yaml`, split by resource into extensions.
///
/// An operation reads the principal from ``RequestScope``, authorises through Core, converts its input,
/// makes one store call (in a tenant- or MSP-scoped transaction) and converts the output.
struct APIHandler: APIProtocol {
    let database: Database
    /// The clock; tests may pin it.
    let now: @Sendable () -> Date
    /// Seals bind passwords and runs syncs; `nil` without a key-encryption key (directory writes answer 503).
    let directorySync: DirectorySyncEngine?
    /// Runs API-started syncs in the background; `nil` without a key-encryption key.
    let syncRunner: DirectorySyncRunner?
    /// The key-encryption key's sealer for webhook secrets; `nil` without one (those writes answer 503).
    let endpoints: EndpointServices?
    /// Enrollment tokens, devices, PIN answers and signing keys.
    let endpointService: EndpointService
    /// The replica's event hub, told when a device is revoked so its streams close.
    let hub: EventHub?
    /// Directory connections and webhooks per tenant.
    let quotas: LimitsConfiguration.Quotas

    init(
        database: Database, directorySync: DirectorySyncEngine? = nil, syncRunner: DirectorySyncRunner? = nil,
        endpoints: EndpointServices? = nil, endpointService: EndpointService, hub: EventHub? = nil,
        quotas: LimitsConfiguration.Quotas = LimitsConfiguration.Quotas(), now: @escaping @Sendable () -> Date = { Date() }
    ) {
        self.quotas = quotas
        self.database = database
        self.directorySync = directorySync
        self.syncRunner = syncRunner
        self.endpoints = endpoints
        self.endpointService = endpointService
        self.hub = hub
        self.now = now
    }

    func whoami(_ input: Operations.Whoami.Input) async throws -> Operations.Whoami.Output {
        let principal = try RequestScope.require().principal
        return .ok(
            .init(
                body: .json(
                    .init(
                        principalId: principal.id.description,
                        name: principal.name,
                        role: .init(principal.role),
                        mspId: principal.scope.mspID.description,
                        tenantId: principal.scope.tenantID?.description
                    )
                )
            )
        )
    }

    func getMSP(_ input: Operations.GetMSP.Input) async throws -> Operations.GetMSP.Output {
        let scope = try RequestScope.require()
        let msp = try Input.mspID(input.path.msp)
        try scope.principal.authorizeMSP(.read, msp: msp, allowTenantScope: true)
        let found = try await database.withMSP(msp, logger: scope.logger) { tx in try await tx.msps.get(msp) }
        return .ok(.init(body: .json(.init(id: found.id.description, name: found.name, createdAt: found.createdAt))))
    }
}

extension Components.Schemas.Role {
    init(_ role: Role) {
        switch role {
        case .owner: self = .owner
        case .admin: self = .admin
        case .approver: self = .approver
        case .auditor: self = .auditor
        }
    }

    var role: Role {
        switch self {
        case .owner: .owner
        case .admin: .admin
        case .approver: .approver
        case .auditor: .auditor
        }
    }
}
