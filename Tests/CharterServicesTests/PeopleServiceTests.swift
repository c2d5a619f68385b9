import CharterCore
import CharterServices
import CharterStore
import CharterTestSupport
import Foundation
import Logging
import Testing

/// People, grants and sessions against the real PostgreSQL, as the service role (row-level security applies).
@Suite("People and sessions")
struct PeopleServiceTests {
    static let issuer = "https://idp.test/realms/charter"
    static let client = ClientInfo(userAgent: "tests", ip: "192.0.2.7")

    static func identity(_ subject: String = UUID().uuidString, groups: [String]) -> VerifiedIdentity {
        VerifiedIdentity(
            issuer: issuer, subject: subject, email: "\(subject.prefix(8))@msp.test", name: "Tech", groups: groups
        )
    }

    static var owner: Caller { Caller.system(logger: TestDatabase.logger) }

    /// The caller a request authenticated by `session` would be.
    static func caller(_ database: Database, _ session: OpenedSession) async throws -> Caller {
        let principal = try #require(try await credential(database, session.id)?.principal)
        return Caller(
            principal: principal, actor: AuditRecord.Actor(principal: principal, requestID: nil, clientIP: nil),
            logger: TestDatabase.logger
        )
    }

    static func credential(_ database: Database, _ id: SessionID) async throws -> SessionRepository.Credential? {
        try await database.readWithoutTenant(logger: TestDatabase.logger) { tx in try await tx.sessions.credential(for: id) }
    }

    static func mspEvents(_ database: Database, _ msp: MSPID) async throws -> [AuditEvent] {
        try await database.withMSP(msp, logger: TestDatabase.logger) { tx in
            try await tx.audit.list(.msp(msp), before: nil, limit: 100)
        }
    }

    @Test(
        "a role mapping's claim value is refused empty, over 500 characters or with control characters; nothing stored",
        arguments: ["", String(repeating: "g", count: 501), "admins\u{0}", "line\nbreak", "bell\u{7}", "c1\u{85}"]
    )
    func invalidClaimValue(claim: String) async throws {
        let (msp, _) = try await TestDatabase.makeMSP(tenants: 0)
        try await TestDatabase.withService { database in
            let people = PeopleService(database: database)
            await #expect(throws: PeopleError.invalidClaimValue) {
                _ = try await people.map(claim, to: Grant(role: .admin, scope: .msp(msp)), in: msp, by: Self.owner)
            }
            let stored = try await people.mappings(of: msp, by: Self.owner)
            #expect(stored.isEmpty)
        }
    }

    @Test("a person no mapping or grant covers is refused 'no role': nothing stored, the refusal audited")
    func noRole() async throws {
        let (msp, _) = try await TestDatabase.makeMSP(tenants: 1)
        try await TestDatabase.withService { database in
            let people = PeopleService(database: database)
            _ = try await people.map("admins", to: Grant(role: .admin, scope: .msp(msp)), in: msp, by: Self.owner)
            await #expect(throws: PeopleError.noRole) {
                _ = try await people.signIn(Self.identity(groups: ["users"]), msp: msp, client: Self.client,
                                            logger: TestDatabase.logger)
            }
            #expect(try await people.people(of: msp, after: nil, limit: 10, by: Self.owner).isEmpty)
            let refused = try #require(try await Self.mspEvents(database, msp).first)
            #expect(refused.record.action == "person.sign_in_refused")
            #expect(refused.record.actor.person?.issuer == Self.issuer)
        }
    }

    @Test("sign-in stores the person and opens a session whose credential carries the mapped grants")
    func signIn() async throws {
        let (msp, tenants) = try await TestDatabase.makeMSP(tenants: 2)
        try await TestDatabase.withService { database in
            let people = PeopleService(database: database)
            _ = try await people.map(
                "helpdesk", to: Grant(role: .approver, scope: .tenant(msp, tenants[0])), in: msp, by: Self.owner
            )
            let identity = Self.identity(groups: ["helpdesk", "other"])
            let session = try await people.signIn(identity, msp: msp, client: Self.client, logger: TestDatabase.logger)
            let cookie = try #require(SessionCookie(parsing: session.credential))
            #expect(SessionID(cookie.id.rawValue) == session.id)

            let credential = try #require(try await Self.credential(database, session.id))
            #expect(cookie.matches(credential.secretHash))
            #expect(credential.csrfHash == CSRFToken.hash(session.csrfToken))
            #expect(credential.kind == .browser)
            #expect(credential.principal.grants == [Grant(role: .approver, scope: .tenant(msp, tenants[0]))])
            #expect(credential.principal.person?.subject == identity.subject)
            #expect(credential.principal.mspID == msp)

            // The tenant-only approver is confined to its tenant.
            #expect(throws: AccessDenial.outOfScope) {
                try credential.principal.authorize(.read, tenant: tenants[1], of: msp)
            }
            try credential.principal.authorize(.approve, tenant: tenants[0], of: msp)

            let signedIn = try #require(try await Self.mspEvents(database, msp).first)
            #expect(signedIn.record.action == "person.signed_in")
            #expect(signedIn.record.actor.person?.subject == identity.subject)
            let verification = try await database.withMSP(msp, logger: TestDatabase.logger) { tx in
                try await tx.audit.verify(.msp(msp))
            }
            #expect(verification.firstBreak == nil)
        }
    }

    @Test("a person removed from a group loses the mapped role at the next sign-in, on every session")
    func groupRemoved() async throws {
        let (msp, tenants) = try await TestDatabase.makeMSP(tenants: 1)
        try await TestDatabase.withService { database in
            let people = PeopleService(database: database)
            _ = try await people.map("admins", to: Grant(role: .admin, scope: .msp(msp)), in: msp, by: Self.owner)
            _ = try await people.map(
                "helpdesk", to: Grant(role: .approver, scope: .tenant(msp, tenants[0])), in: msp, by: Self.owner
            )
            let subject = UUID().uuidString
            let first = try await people.signIn(
                Self.identity(subject, groups: ["admins", "helpdesk"]), msp: msp, client: Self.client,
                logger: TestDatabase.logger
            )
            let before = try #require(try await Self.credential(database, first.id)).principal
            #expect(before.mspWideRole(of: msp) == .admin)
            #expect(before.role(onTenant: tenants[0], of: msp) == .approver)

            let second = try await people.signIn(
                Self.identity(subject, groups: ["helpdesk"]), msp: msp, client: Self.client,
                logger: TestDatabase.logger
            )
            #expect(second.personID == first.personID)
            for session in [first, second] {
                let after = try #require(try await Self.credential(database, session.id)).principal
                #expect(after.grants == [Grant(role: .approver, scope: .tenant(msp, tenants[0]))])
                #expect(throws: AccessDenial.requiresMSPScope) { try after.authorizeMSP(.read, msp: msp) }
            }
            // Removed from every group: refused, and the sessions already open lose every grant with it.
            await #expect(throws: PeopleError.noRole) {
                _ = try await people.signIn(
                    Self.identity(subject, groups: []), msp: msp, client: Self.client, logger: TestDatabase.logger
                )
            }
            for session in [first, second] {
                let after = try #require(try await Self.credential(database, session.id)).principal
                #expect(after.grants.isEmpty)
                #expect(throws: AccessDenial.outOfScope) { try after.authorize(.read, tenant: tenants[0], of: msp) }
            }
        }
    }

    @Test("effective grants list mappings and direct grants with their sources; least privilege decides")
    func directAndMapped() async throws {
        let (msp, tenants) = try await TestDatabase.makeMSP(tenants: 1)
        try await TestDatabase.withService { database in
            let people = PeopleService(database: database)
            let mapping = try await people.map(
                "techs", to: Grant(role: .owner, scope: .msp(msp)), in: msp, by: Self.owner
            )
            let session = try await people.signIn(
                Self.identity(groups: ["techs"]), msp: msp, client: Self.client, logger: TestDatabase.logger
            )
            let direct = try await people.give(
                Grant(role: .auditor, scope: .tenant(msp, tenants[0])), to: session.personID, in: msp, by: Self.owner
            )
            let grants = try await people.grants(of: session.personID, in: msp, by: Self.owner)
            #expect(grants == [
                EffectiveGrant(grant: mapping.grant, source: .mapping(mapping.id, claimValue: "techs")),
                EffectiveGrant(grant: direct.grant, source: .direct(direct.id)),
            ])
            let principal = try #require(try await Self.credential(database, session.id)).principal
            #expect(principal.role(onTenant: tenants[0], of: msp) == .auditor)
            #expect(principal.mspWideRole(of: msp) == .owner)

            // A grant on a tenant of another MSP is refused; the mapping's removal takes effect at once.
            let (_, otherTenants) = try await TestDatabase.makeMSP(tenants: 1)
            await #expect(throws: PeopleError.unknownTenant(field: "/tenant_id")) {
                _ = try await people.give(
                    Grant(role: .auditor, scope: .tenant(msp, otherTenants[0])), to: session.personID, in: msp,
                    by: Self.owner
                )
            }
            try await people.unmap(mapping.id, in: msp, by: Self.owner)
            let after = try #require(try await Self.credential(database, session.id)).principal
            #expect(after.grants == [direct.grant])
            try await people.takeBack(direct.id, from: session.personID, in: msp, by: Self.owner)
            #expect(try await Self.credential(database, session.id)?.principal.grants == [])
        }
    }

    @Test("claims longer than stored: the name and user agent are cut by code points, a long subject is refused")
    func longClaims() async throws {
        let (msp, _) = try await TestDatabase.makeMSP(tenants: 1)
        try await TestDatabase.withService { database in
            let people = PeopleService(database: database)
            _ = try await people.map("all", to: Grant(role: .auditor, scope: .msp(msp)), in: msp, by: Self.owner)
            // 150 graphemes of two code points each: 300 code points, more than the 200 a name keeps.
            let name = String(repeating: "e\u{301}", count: 150)
            var identity = Self.identity(groups: ["all"])
            identity.name = name
            let session = try await people.signIn(
                identity, msp: msp, client: ClientInfo(userAgent: String(repeating: "a\u{301}", count: 400), ip: nil),
                logger: TestDatabase.logger
            )
            let person = try await people.person(session.personID, of: msp, by: Self.owner)
            #expect(person.name?.unicodeScalars.count == 200)
            let listed = try await people.sessions(of: msp, person: nil, after: nil, limit: 10, by: Self.owner)
            #expect(listed.first?.userAgent?.unicodeScalars.count == 500)

            identity.subject = String(repeating: "s", count: 256)
            await #expect(throws: PeopleError.unusableClaim("sub")) {
                _ = try await people.signIn(identity, msp: msp, client: Self.client, logger: TestDatabase.logger)
            }
        }
    }

    @Test("a person cannot give a grant broader than their own")
    func noBroaderGrant() async throws {
        let (msp, tenants) = try await TestDatabase.makeMSP(tenants: 1)
        try await TestDatabase.withService { database in
            let people = PeopleService(database: database)
            _ = try await people.map(
                "t-owners", to: Grant(role: .owner, scope: .tenant(msp, tenants[0])), in: msp, by: Self.owner
            )
            let session = try await people.signIn(
                Self.identity(groups: ["t-owners"]), msp: msp, client: Self.client, logger: TestDatabase.logger
            )
            let caller = try await Self.caller(database, session)
            await #expect(throws: AccessDenial.cannotGrantBroader) {
                _ = try await people.map("x", to: Grant(role: .auditor, scope: .msp(msp)), in: msp, by: caller)
            }
        }
    }

    @Test("tokens: from a browser session only, never outliving it, revoked with it; sign-out ends both")
    func tokens() async throws {
        let (msp, _) = try await TestDatabase.makeMSP(tenants: 1)
        try await TestDatabase.withService { database in
            let people = PeopleService(
                database: database, lifetime: SessionLifetime(absolute: .seconds(1800), token: .seconds(3600))
            )
            _ = try await people.map("admins", to: Grant(role: .admin, scope: .msp(msp)), in: msp, by: Self.owner)
            let session = try await people.signIn(
                Self.identity(groups: ["admins"]), msp: msp, client: Self.client, logger: TestDatabase.logger
            )
            let browser = try await Self.caller(database, session)
            let issued = try await people.createToken(by: browser, client: Self.client)
            // The session ends in 30 minutes, before the token's hour: the token ends with it.
            let stored = try await people.sessions(of: msp, person: session.personID, after: nil, limit: 10, by: browser)
            #expect(stored.count == 2 && Set(stored.map(\.expiresAt)).count == 1)
            #expect(abs(issued.session.expiresAt.timeIntervalSince(session.expiresAt)) < 0.001)
            let token = try #require(PersonalToken(parsing: issued.token))
            let credential = try #require(try await Self.credential(database, token.sessionID))
            #expect(token.matches(credential.secretHash))
            #expect(credential.kind == .token && credential.csrfHash == nil)

            let viaToken = Caller(
                principal: credential.principal, actor: .init(principal: credential.principal, requestID: nil, clientIP: nil),
                logger: TestDatabase.logger
            )
            await #expect(throws: PeopleError.requiresBrowserSession) {
                _ = try await people.createToken(by: viaToken, client: Self.client)
            }
            await #expect(throws: PeopleError.requiresBrowserSession) {
                _ = try await people.createToken(by: Self.owner, client: Self.client)
            }
            let listed = try await people.sessions(of: msp, person: session.personID, after: nil, limit: 10, by: browser)
            #expect(Set(listed.map(\.id)) == [session.id, token.sessionID])

            try await people.signOut(by: browser)
            #expect(try await Self.credential(database, session.id) == nil)
            #expect(try await Self.credential(database, token.sessionID) == nil)
            #expect(try await people.sessions(of: msp, person: nil, after: nil, limit: 10, by: Self.owner).isEmpty)
        }
    }

    @Test("another MSP's session or person is not found, and a person revokes only their own sessions")
    func crossMSP() async throws {
        let (mspA, _) = try await TestDatabase.makeMSP(tenants: 1)
        let (mspB, _) = try await TestDatabase.makeMSP(tenants: 1)
        try await TestDatabase.withService { database in
            let people = PeopleService(database: database)
            for msp in [mspA, mspB] {
                _ = try await people.map("all", to: Grant(role: .owner, scope: .msp(msp)), in: msp, by: Self.owner)
            }
            let a = try await people.signIn(Self.identity(groups: ["all"]), msp: mspA, client: Self.client,
                                            logger: TestDatabase.logger)
            let a2 = try await people.signIn(Self.identity(groups: ["all"]), msp: mspA, client: Self.client,
                                             logger: TestDatabase.logger)
            let b = try await people.signIn(Self.identity(groups: ["all"]), msp: mspB, client: Self.client,
                                            logger: TestDatabase.logger)
            #expect(try await Self.credential(database, b.id)?.principal.mspID == mspB)
            await #expect(throws: StoreError.notFound) {
                try await people.revokeSession(a.id, in: mspB, person: nil, by: Self.owner)
            }
            await #expect(throws: StoreError.notFound) {
                _ = try await people.person(a.personID, of: mspB, by: Self.owner)
            }
            await #expect(throws: StoreError.notFound) {
                try await people.revokeSession(a2.id, in: mspA, person: a.personID, by: Self.owner)
            }
            #expect(try await people.sessions(of: mspB, person: nil, after: nil, limit: 10, by: Self.owner).map(\.id)
                == [b.id])
            try await people.revokeSession(a.id, in: mspA, person: a.personID, by: Self.owner)
            #expect(try await Self.credential(database, a.id) == nil)
            #expect(try await Self.credential(database, a2.id) != nil)
        }
    }
}
