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
/// An operation authorises its caller (``TenantCall``, ``MSPCall``), converts its input, makes one call to a
/// service of CharterServices and converts the output.
struct APIHandler: APIProtocol {
    let database: Database
    /// MSPs, tenants and API keys.
    let tenancy: TenancyService
    /// Settings, subsettings and the effective policy.
    let policy: PolicyService
    /// Elevation requests: listed and decided by approvers.
    let requests: RequestService
    /// Webhooks and their deliveries.
    let webhooks: WebhookService
    /// The audit log: its events, exports and verification.
    let audit: AuditService
    /// The clock; tests may pin it.
    let now: @Sendable () -> Date
    /// Directory connections, syncs and objects.
    let directory: DirectoryService
    /// Enrollment tokens, devices, PIN answers and signing keys.
    let endpointService: EndpointService
    /// The replica's event hub, told when a device is revoked so its streams close.
    let hub: EventHub?
    /// Directory connections per tenant.
    let quotas: LimitsConfiguration.Quotas

    init(
        database: Database, tenancy: TenancyService, policy: PolicyService, requests: RequestService,
        webhooks: WebhookService, audit: AuditService, directory: DirectoryService,
        endpointService: EndpointService, hub: EventHub? = nil,
        quotas: LimitsConfiguration.Quotas = LimitsConfiguration.Quotas(), now: @escaping @Sendable () -> Date = { Date() }
    ) {
        self.quotas = quotas
        self.database = database
        self.tenancy = tenancy
        self.policy = policy
        self.requests = requests
        self.webhooks = webhooks
        self.audit = audit
        self.directory = directory
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
        let call = try MSPCall.authorize(.read, msp: input.path.msp, allowTenantScope: true)
        let found = try await tenancy.msp(call.msp, by: call.caller)
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
