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
    /// MSPs, tenants and API keys.
    let tenancy: TenancyService
    /// Settings, subsettings and the effective policy.
    let policy: PolicyService
    /// Elevation requests: listed and decided by approvers.
    let requests: RequestService
    /// Webhooks and their deliveries.
    let webhooks: WebhookService
    /// The addresses alerts are emailed to, a tenant's and an MSP's.
    let alertEmails: AlertEmailService
    /// The audit log: its events, exports and verification.
    let audit: AuditService
    /// Directory connections, syncs and objects.
    let directory: DirectoryService
    /// Enrollment tokens, devices, PIN answers and signing keys.
    let endpointService: EndpointService
    /// On-premises connectors: listed, read and revoked by administrators.
    let connectorService: ConnectorService
    /// People, their grants, role mappings and sessions.
    let people: PeopleService
    /// The MSP's OpenID Connect provider.
    let identityProviders: IdentityProviderService
    /// Elevation reports of a tenant or across an MSP.
    let reports: ReportService
    /// The MSP's baselines and their assignment to tenants.
    let baselines: BaselineService
    /// The clock (the validity of tokens and keys in answers); tests may pin it.
    var now: @Sendable () -> Date = { Date() }

    func whoami(_ input: Operations.Whoami.Input) async throws -> Operations.Whoami.Output {
        let principal = try RequestScope.require().principal
        return .ok(
            .init(
                body: .json(
                    .init(
                        principalId: principal.id.description,
                        name: principal.name,
                        role: .init(principal.weakestRole),
                        mspId: principal.mspID.description,
                        tenantId: principal.soleTenant?.description,
                        grants: principal.grants.map(Components.Schemas.Grant.init),
                        person: principal.person.map {
                            .init(
                                id: $0.id.description, issuer: $0.issuer, subject: $0.subject, email: $0.email,
                                sessionId: $0.sessionID?.description
                            )
                        }
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
