import CharterCore
import CharterServices
import CharterStore
import Foundation
import OpenAPIRuntime

extension APIHandler {
    // MARK: - The caller's own sessions

    func signOut(_ input: Operations.SignOut.Input) async throws -> Operations.SignOut.Output {
        try await people.signOut(by: try RequestScope.require().caller)
        return .noContent(.init())
    }

    func createPersonalToken(
        _ input: Operations.CreatePersonalToken.Input
    ) async throws -> Operations.CreatePersonalToken.Output {
        let scope = try RequestScope.require()
        let issued = try await people.createToken(by: scope.caller, client: ClientInfo(userAgent: nil, ip: scope.clientIP))
        return .created(
            .init(
                body: .json(
                    .init(token: issued.token, sessionId: issued.session.id.description, expiresAt: issued.session.expiresAt)
                )
            )
        )
    }

    func listMySessions(_ input: Operations.ListMySessions.Input) async throws -> Operations.ListMySessions.Output {
        let (scope, person) = try Self.person()
        let list = try await sessionList(
            of: scope.principal.mspID, person: person.id, limit: input.query.limit, cursor: input.query.cursor,
            by: scope.caller
        )
        return .ok(.init(body: .json(list)))
    }

    func revokeMySession(_ input: Operations.RevokeMySession.Input) async throws -> Operations.RevokeMySession.Output {
        let (scope, person) = try Self.person()
        let id: SessionID = try Input.id(input.path.session, field: "session")
        try await people.revokeSession(id, in: scope.principal.mspID, person: person.id, by: scope.caller)
        return .noContent(.init())
    }

    /// The caller as a person; an API key has no sessions (403).
    private static func person() throws -> (RequestScope, Principal.Person) {
        let scope = try RequestScope.require()
        guard let person = scope.principal.person else { throw PeopleError.requiresPerson }
        return (scope, person)
    }

    // MARK: - People and grants (MSP owners)

    func listPeople(_ input: Operations.ListPeople.Input) async throws -> Operations.ListPeople.Output {
        let call = try MSPCall.authorize(.managePeople, msp: input.path.msp)
        let limit = try Input.limit(input.query.limit)
        let cursor = try Cursor.decodeID(input.query.cursor, as: PersonID.self)
        let found = try await people.people(of: call.msp, after: cursor, limit: limit + 1, by: call.caller)
        let page = found.prefix(limit)
        let next = found.count > limit ? page.last.map { $0.id.description } : nil
        return .ok(.init(body: .json(.init(items: page.map(Components.Schemas.Person.init), nextCursor: next))))
    }

    func getPerson(_ input: Operations.GetPerson.Input) async throws -> Operations.GetPerson.Output {
        let call = try MSPCall.authorize(.managePeople, msp: input.path.msp)
        let id: PersonID = try Input.id(input.path.person, field: "person")
        return .ok(.init(body: .json(.init(try await people.person(id, of: call.msp, by: call.caller)))))
    }

    func listPersonGrants(_ input: Operations.ListPersonGrants.Input) async throws -> Operations.ListPersonGrants.Output {
        let call = try MSPCall.authorize(.managePeople, msp: input.path.msp)
        let id: PersonID = try Input.id(input.path.person, field: "person")
        let grants = try await people.grants(of: id, in: call.msp, by: call.caller)
        return .ok(.init(body: .json(.init(items: grants.map(Components.Schemas.EffectiveGrant.init)))))
    }

    func createPersonGrant(
        _ input: Operations.CreatePersonGrant.Input
    ) async throws -> Operations.CreatePersonGrant.Output {
        let call = try MSPCall.authorize(.managePeople, msp: input.path.msp)
        let id: PersonID = try Input.id(input.path.person, field: "person")
        guard case .json(let body) = input.body else { throw Problem(.unsupportedMediaType, "Send application/json.") }
        let grant = try Self.grant(body.role, tenant: body.tenantId, in: call.msp)
        let given = try await people.give(grant, to: id, in: call.msp, by: call.caller)
        return .created(.init(body: .json(.init(given))))
    }

    func deletePersonGrant(
        _ input: Operations.DeletePersonGrant.Input
    ) async throws -> Operations.DeletePersonGrant.Output {
        let call = try MSPCall.authorize(.managePeople, msp: input.path.msp)
        let person: PersonID = try Input.id(input.path.person, field: "person")
        let grant: PersonGrantID = try Input.id(input.path.grant, field: "grant")
        try await people.takeBack(grant, from: person, in: call.msp, by: call.caller)
        return .noContent(.init())
    }

    // MARK: - Role mappings

    func listRoleMappings(_ input: Operations.ListRoleMappings.Input) async throws -> Operations.ListRoleMappings.Output {
        let call = try MSPCall.authorize(.managePeople, msp: input.path.msp)
        let mappings = try await people.mappings(of: call.msp, by: call.caller)
        return .ok(.init(body: .json(.init(items: mappings.map(Components.Schemas.RoleMapping.init)))))
    }

    func createRoleMapping(
        _ input: Operations.CreateRoleMapping.Input
    ) async throws -> Operations.CreateRoleMapping.Output {
        let call = try MSPCall.authorize(.managePeople, msp: input.path.msp)
        guard case .json(let body) = input.body else { throw Problem(.unsupportedMediaType, "Send application/json.") }
        let claim = try Input.text(body.claimValue, field: "/claim_value", maxLength: 500) ?? ""
        let grant = try Self.grant(body.role, tenant: body.tenantId, in: call.msp)
        let mapping = try await people.map(claim, to: grant, in: call.msp, by: call.caller)
        return .created(.init(body: .json(.init(mapping))))
    }

    func deleteRoleMapping(
        _ input: Operations.DeleteRoleMapping.Input
    ) async throws -> Operations.DeleteRoleMapping.Output {
        let call = try MSPCall.authorize(.managePeople, msp: input.path.msp)
        let id: RoleMappingID = try Input.id(input.path.mapping, field: "mapping")
        try await people.unmap(id, in: call.msp, by: call.caller)
        return .noContent(.init())
    }

    // MARK: - Sessions of the MSP

    func listMSPSessions(_ input: Operations.ListMSPSessions.Input) async throws -> Operations.ListMSPSessions.Output {
        let call = try MSPCall.authorize(.managePeople, msp: input.path.msp)
        let list = try await sessionList(
            of: call.msp, person: nil, limit: input.query.limit, cursor: input.query.cursor, by: call.caller
        )
        return .ok(.init(body: .json(list)))
    }

    func revokeMSPSession(_ input: Operations.RevokeMSPSession.Input) async throws -> Operations.RevokeMSPSession.Output {
        let call = try MSPCall.authorize(.managePeople, msp: input.path.msp)
        let id: SessionID = try Input.id(input.path.session, field: "session")
        try await people.revokeSession(id, in: call.msp, person: nil, by: call.caller)
        return .noContent(.init())
    }

    // MARK: - Shared

    private func sessionList(
        of msp: MSPID, person: PersonID?, limit rawLimit: Int?, cursor rawCursor: String?, by caller: Caller
    ) async throws -> Components.Schemas.SessionList {
        let limit = try Input.limit(rawLimit)
        let cursor = try Cursor.decodeID(rawCursor, as: SessionID.self)
        let sessions = try await people.sessions(of: msp, person: person, after: cursor, limit: limit + 1, by: caller)
        let page = sessions.prefix(limit)
        let next = sessions.count > limit ? page.last.map { $0.id.description } : nil
        return .init(items: page.map(Components.Schemas.Session.init), nextCursor: next)
    }

    /// A grant of the request body: `role` on the MSP, or on `tenant_id` of it.
    private static func grant(_ role: Components.Schemas.Role, tenant raw: String?, in msp: MSPID) throws -> Grant {
        guard let raw else { return Grant(role: role.role, scope: .msp(msp)) }
        guard let tenant = TenantID(raw) else {
            throw Problem(.malformedRequest, "tenant_id must be a UUID.", field: "/tenant_id")
        }
        return Grant(role: role.role, scope: .tenant(msp, tenant))
    }
}

extension Components.Schemas.Grant {
    init(_ grant: Grant) {
        self.init(role: .init(grant.role), tenantId: grant.scope.tenantID?.description)
    }
}

extension Components.Schemas.Person {
    init(_ person: Person) {
        self.init(
            id: person.id.description, mspId: person.mspID.description, issuer: person.issuer, subject: person.subject,
            email: person.email, name: person.name, groups: person.groups, lastSignInAt: person.lastSignInAt,
            createdAt: person.createdAt
        )
    }
}

extension Components.Schemas.EffectiveGrant {
    init(_ effective: EffectiveGrant) {
        let (source, id, claim): (SourcePayload, String, String?) =
            switch effective.source {
            case .mapping(let id, let claim): (.mapping, id.description, claim)
            case .direct(let id): (.direct, id.description, nil)
            }
        self.init(
            role: .init(effective.grant.role), tenantId: effective.grant.scope.tenantID?.description, source: source,
            sourceId: id, claimValue: claim
        )
    }
}

extension Components.Schemas.PersonGrant {
    init(_ given: PersonGrant) {
        self.init(
            id: given.id.description, personId: given.personID.description, role: .init(given.grant.role),
            tenantId: given.grant.scope.tenantID?.description, createdAt: given.createdAt
        )
    }
}

extension Components.Schemas.RoleMapping {
    init(_ mapping: RoleMapping) {
        self.init(
            id: mapping.id.description, claimValue: mapping.claimValue, role: .init(mapping.grant.role),
            tenantId: mapping.grant.scope.tenantID?.description, createdAt: mapping.createdAt
        )
    }
}

extension Components.Schemas.Session {
    init(_ session: Session) {
        self.init(
            id: session.id.description, personId: session.personID.description,
            kind: session.kind == .browser ? .browser : .token, createdAt: session.createdAt,
            lastUsedAt: session.lastUsedAt, expiresAt: session.expiresAt, userAgent: session.userAgent, ip: session.ip
        )
    }
}
