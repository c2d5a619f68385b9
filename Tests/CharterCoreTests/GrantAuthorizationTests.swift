import CharterCore
import Foundation
import Testing

@Suite("Authorisation with grants")
struct GrantAuthorizationTests {
    static let msp = MSPID(UUID(uuidString: "00000000-0000-0000-0000-0000000000a1")!)
    static let otherMSP = MSPID(UUID(uuidString: "00000000-0000-0000-0000-0000000000a2")!)
    static let t1 = TenantID(UUID(uuidString: "00000000-0000-0000-0000-0000000000b1")!)
    static let t2 = TenantID(UUID(uuidString: "00000000-0000-0000-0000-0000000000b2")!)

    static func person(_ grants: [Grant], msp: MSPID = msp) -> Principal {
        Principal(
            person: .init(id: PersonID(UUID()), issuer: "https://idp.test", subject: "s", email: "a@b.test"),
            name: "a@b.test", msp: msp, grants: grants
        )
    }

    static func key(_ role: Role, _ scope: Principal.Scope) -> Principal {
        Principal(id: .random(), name: "key", role: role, scope: scope)
    }

    static func mspWide(_ role: Role) -> Grant { Grant(role: role, scope: .msp(msp)) }
    static func on(_ tenant: TenantID, _ role: Role) -> Grant { Grant(role: role, scope: .tenant(msp, tenant)) }

    struct TenantCase: Sendable, CustomTestStringConvertible {
        var name: String
        var grants: [Grant]
        var permission: Permission
        var tenant: TenantID
        var expected: AccessDenial?
        var testDescription: String { name }
    }

    static let tenantCases: [TenantCase] = [
        .init(name: "MSP-wide admin configures any tenant", grants: [mspWide(.admin)], permission: .configure,
              tenant: t2, expected: nil),
        .init(name: "tenant approver approves on its tenant", grants: [on(t1, .approver)], permission: .approve,
              tenant: t1, expected: nil),
        .init(name: "tenant approver does not see another tenant", grants: [on(t1, .approver)], permission: .read,
              tenant: t2, expected: .outOfScope),
        .init(name: "least privilege: MSP-wide auditor and tenant admin read only",
              grants: [mspWide(.auditor), on(t1, .admin)], permission: .configure, tenant: t1,
              expected: .insufficientRole(required: .admin)),
        .init(name: "least privilege: two grants on one tenant, the weaker wins",
              grants: [on(t1, .owner), on(t1, .approver)], permission: .configure, tenant: t1,
              expected: .insufficientRole(required: .admin)),
        .init(name: "a grant on another tenant does not weaken this one",
              grants: [on(t1, .admin), on(t2, .auditor)], permission: .configure, tenant: t1, expected: nil),
        .init(name: "MSP-wide owner and tenant approver: approver on that tenant",
              grants: [mspWide(.owner), on(t1, .approver)], permission: .configure, tenant: t1,
              expected: .insufficientRole(required: .admin)),
        .init(name: "MSP-wide owner and tenant approver: owner elsewhere",
              grants: [mspWide(.owner), on(t1, .approver)], permission: .configure, tenant: t2, expected: nil),
        .init(name: "no grants: nothing is in scope", grants: [], permission: .read, tenant: t1,
              expected: .outOfScope),
    ]

    @Test("a tenant is authorised by the weakest grant covering it", arguments: tenantCases)
    func tenant(_ example: TenantCase) {
        let principal = Self.person(example.grants)
        #expect(Self.denial { () throws(AccessDenial) in
            try principal.authorize(example.permission, tenant: example.tenant, of: Self.msp)
        } == example.expected)
    }

    struct MSPCase: Sendable, CustomTestStringConvertible {
        var name: String
        var grants: [Grant]
        var permission: Permission
        var allowTenantScope: Bool
        var expected: AccessDenial?
        var testDescription: String { name }
    }

    static let mspCases: [MSPCase] = [
        .init(name: "MSP-wide owner manages tenants", grants: [mspWide(.owner)], permission: .manageTenants,
              allowTenantScope: false, expected: nil),
        .init(name: "MSP-wide owner and MSP-wide auditor: auditor", grants: [mspWide(.owner), mspWide(.auditor)],
              permission: .manageTenants, allowTenantScope: false, expected: .insufficientRole(required: .owner)),
        .init(name: "tenant grants do not weaken the MSP-wide role", grants: [mspWide(.owner), on(t1, .auditor)],
              permission: .manageTenants, allowTenantScope: false, expected: nil),
        .init(name: "tenant owner only is tenant-scoped for MSP routes", grants: [on(t1, .owner)],
              permission: .manageTenants, allowTenantScope: false, expected: .requiresMSPScope),
        .init(name: "tenant grants only may read the MSP where allowed", grants: [on(t1, .approver), on(t2, .owner)],
              permission: .read, allowTenantScope: true, expected: nil),
        .init(name: "tenant grants only: the weakest of them where allowed",
              grants: [on(t1, .auditor), on(t2, .owner)], permission: .approve, allowTenantScope: true,
              expected: .insufficientRole(required: .approver)),
        .init(name: "no grants: MSP out of scope", grants: [], permission: .read, allowTenantScope: true,
              expected: .outOfScope),
    ]

    @Test("the MSP is authorised by MSP-wide grants only", arguments: mspCases)
    func msp(_ example: MSPCase) {
        let principal = Self.person(example.grants)
        #expect(Self.denial { () throws(AccessDenial) in
            try principal.authorizeMSP(example.permission, msp: Self.msp, allowTenantScope: example.allowTenantScope)
        } == example.expected)
    }

    @Test("another MSP is out of scope for every principal")
    func otherMSP() {
        for principal in [Self.person([Self.mspWide(.owner)]), Self.key(.owner, .msp(Self.msp))] {
            #expect(Self.denial { () throws(AccessDenial) in
                try principal.authorizeMSP(.read, msp: Self.otherMSP, allowTenantScope: true)
            } == .outOfScope)
            #expect(Self.denial { () throws(AccessDenial) in
                try principal.authorize(.read, tenant: Self.t1, of: Self.otherMSP)
            } == .outOfScope)
        }
    }

    @Test("a person's principal keeps only the grants of its own MSP")
    func foreignGrantsDropped() {
        let principal = Self.person([Grant(role: .owner, scope: .msp(Self.otherMSP)), Self.on(Self.t1, .auditor)])
        #expect(principal.grants == [Self.on(Self.t1, .auditor)])
    }

    struct GrantCase: Sendable, CustomTestStringConvertible {
        var name: String
        var principal: Principal
        var role: Role
        var scope: Principal.Scope
        var allowed: Bool
        var testDescription: String { name }
    }

    static let grantCases: [GrantCase] = [
        .init(name: "MSP owner key grants a tenant admin", principal: key(.owner, .msp(msp)), role: .admin,
              scope: .tenant(msp, t1), allowed: true),
        .init(name: "tenant owner key cannot grant MSP-wide", principal: key(.owner, .tenant(msp, t1)),
              role: .auditor, scope: .msp(msp), allowed: false),
        .init(name: "tenant owner key cannot grant on another tenant", principal: key(.owner, .tenant(msp, t1)),
              role: .auditor, scope: .tenant(msp, t2), allowed: false),
        .init(name: "admin key cannot grant owner", principal: key(.admin, .msp(msp)), role: .owner,
              scope: .msp(msp), allowed: false),
        .init(name: "person: no more than the weakest grant on the tenant",
              principal: person([mspWide(.owner), on(t1, .approver)]), role: .admin, scope: .tenant(msp, t1),
              allowed: false),
        .init(name: "person: MSP-wide owner grants owner on another tenant",
              principal: person([mspWide(.owner), on(t1, .approver)]), role: .owner, scope: .tenant(msp, t2),
              allowed: true),
        .init(name: "person with tenant grants cannot grant MSP-wide", principal: person([on(t1, .owner)]),
              role: .auditor, scope: .msp(msp), allowed: false),
        .init(name: "nobody grants in another MSP", principal: key(.owner, .msp(msp)), role: .auditor,
              scope: .msp(otherMSP), allowed: false),
    ]

    @Test("a grant is no broader than the granter's role there", arguments: grantCases)
    func grant(_ example: GrantCase) {
        let denial = Self.denial { () throws(AccessDenial) in
            try example.principal.authorizeGrant(role: example.role, scope: example.scope)
        }
        #expect(denial == (example.allowed ? nil : .cannotGrantBroader))
    }

    struct ReadableCase: Sendable, CustomTestStringConvertible {
        var name: String
        var principal: Principal
        var msp: MSPID
        var expected: Set<TenantID>?
        var testDescription: String { name }
    }

    static let readableCases: [ReadableCase] = [
        .init(name: "an MSP-wide auditor reads every tenant", principal: person([mspWide(.auditor)]), msp: msp, expected: nil),
        .init(name: "an MSP-wide grant covers all, whatever tenant grants come with it",
              principal: person([on(t1, .auditor), mspWide(.owner)]), msp: msp, expected: nil),
        .init(name: "tenant grants read only their tenants", principal: person([on(t1, .auditor), on(t2, .owner)]),
              msp: msp, expected: [t1, t2]),
        .init(name: "a tenant key reads its tenant", principal: key(.approver, .tenant(msp, t2)), msp: msp, expected: [t2]),
        .init(name: "nothing of another MSP", principal: person([mspWide(.owner), on(t1, .owner)]), msp: otherMSP,
              expected: []),
    ]

    @Test("the tenants an MSP-wide read covers are the ones a tenant read authorises", arguments: readableCases)
    func readable(_ example: ReadableCase) {
        #expect(example.principal.readableTenants(in: example.msp) == example.expected)
        for tenant in [Self.t1, Self.t2] {
            let allowed = Self.denial { () throws(AccessDenial) in
                try example.principal.authorize(.read, tenant: tenant, of: example.msp)
            } == nil
            #expect(allowed == (example.principal.readableTenants(in: example.msp)?.contains(tenant) ?? true))
        }
    }

    @Test("an API key's principal is one grant, with its tenant as the sole tenant")
    func apiKeyPrincipal() {
        let key = Self.key(.approver, .tenant(Self.msp, Self.t1))
        #expect(key.grants == [Self.on(Self.t1, .approver)])
        #expect(key.soleTenant == Self.t1)
        #expect(key.person == nil)
        #expect(Self.key(.owner, .msp(Self.msp)).soleTenant == nil)
        #expect(Self.person([Self.on(Self.t1, .admin), Self.on(Self.t2, .admin)]).soleTenant == nil)
    }

    static func denial(_ body: () throws(AccessDenial) -> Void) -> AccessDenial? {
        do throws(AccessDenial) {
            try body()
            return nil
        } catch {
            return error
        }
    }
}
