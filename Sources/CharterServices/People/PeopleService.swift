package import CharterBundle
package import CharterCore
package import CharterStore
package import Foundation
package import Logging

/// People of an MSP and their sessions: sign-in (``SignInRecorder``), people, their grants, role mappings,
/// sessions, sign-out and personal tokens (docs/identity.md). Each operation is one transaction in the MSP,
/// and every write is audited on the MSP's chain.
///
/// Authorisation is the caller's: the HTTP layer checks that the caller is an MSP owner (people, grants,
/// mappings, all sessions) or the person themselves (their sessions, sign-out, tokens) before it calls.
package struct PeopleService: SignInRecorder {
    /// A credential shown once: the bearer token or cookie value, and when it ends.
    package struct IssuedToken: Sendable {
        package var session: Session
        package var token: String
    }

    let database: Database
    let lifetime: SessionLifetime
    /// Seals the refresh tokens sign-ins bring; without it sessions keep none and are never refreshed.
    let sealer: SecretSealer?
    let refreshPolicy: SessionRefreshPolicy
    /// Refreshes a browser session before a personal token is taken from it (docs/identity.md).
    let refresher: SessionRefreshService?
    /// The clock; tests may pin it.
    let now: @Sendable () -> Date

    package init(
        database: Database, lifetime: SessionLifetime = SessionLifetime(), sealer: SecretSealer? = nil,
        refreshPolicy: SessionRefreshPolicy = SessionRefreshPolicy(), refresher: SessionRefreshService? = nil,
        now: @escaping @Sendable () -> Date = { Date() }
    ) {
        self.database = database
        self.lifetime = lifetime
        self.sealer = sealer
        self.refreshPolicy = refreshPolicy
        self.refresher = refresher
        self.now = now
    }

    // MARK: - Sign-in

    package func signIn(
        _ identity: VerifiedIdentity, refreshToken: ProviderRefreshToken?, msp: MSPID, client: ClientInfo,
        logger: Logger
    ) async throws -> OpenedSession {
        try Self.validate(identity)
        let now = now()
        let cookie = SessionCookie.generate()
        let csrf = CSRFToken.generate()
        let outcome: Result<OpenedSession, PeopleError> = try await database.withMSP(msp, logger: logger) { tx in
            let existing = try await tx.people.find(issuer: identity.issuer, subject: identity.subject, msp: msp)
            var person =
                existing
                ?? Person(
                    id: .random(), mspID: msp, issuer: identity.issuer, subject: identity.subject, email: nil,
                    name: nil, groups: [], lastSignInAt: nil, createdAt: now
                )
            person.email = identity.email
            person.name = identity.name.flatMap { Self.clipped($0, to: 200) }
            person.groups = identity.groups
            person.lastSignInAt = now
            let grants = try await Self.effectiveGrants(of: person, known: existing != nil, tx: tx)
            let caller = Self.caller(person, clientIP: client.ip, logger: logger)
            guard !grants.isEmpty else {
                // The provider has said which groups they are in now: a known person's other sessions and
                // tokens, whose grants are worked out from the stored groups, lose the removed roles at once.
                if existing != nil { try await tx.people.save(person) }
                try await tx.audit.record(
                    "person.sign_in_refused", on: ("person", person.id.description), after: person.auditSnapshot,
                    by: caller, at: now, in: .msp(msp)
                )
                return .failure(.noRole)
            }
            try await tx.people.save(person)
            let session = Self.newSession(
                SessionID(cookie.id.rawValue), of: person.id, in: msp, kind: .browser, at: now,
                until: now.addingTimeInterval(SessionLifetime.seconds(lifetime.absolute)), client: client
            )
            // The refresh token is sealed bound to this session at this provider; without a key-encryption key
            // it is not kept, and the session lives on its sign-in's groups.
            var refresh: (sealedToken: String, dueAt: Date)?
            if let refreshToken, let sealer {
                let context = Session.refreshTokenContext(
                    msp: msp, person: person.id, session: session.id, issuer: person.issuer,
                    clientID: refreshToken.clientID
                )
                let sealed = try sealer.seal(refreshToken.token, context: context).description
                refresh = (sealed, refreshPolicy.nextDue(after: now))
            }
            try await tx.sessions.create(
                session, secretHash: cookie.secretHash, csrfHash: csrf.hash, parent: nil, refresh: refresh,
                refreshedAt: now
            )
            try await tx.audit.record(
                "person.signed_in", on: ("person", person.id.description), before: existing?.auditSnapshot,
                after: person.auditSnapshot, by: caller, at: now, in: .msp(msp)
            )
            return .success(
                OpenedSession(
                    id: session.id, personID: person.id, credential: cookie.string, csrfToken: csrf.value,
                    expiresAt: session.expiresAt
                )
            )
        }
        return try outcome.get()
    }

    /// The caller a person's own sign-in or refresh is audited as.
    static func caller(_ person: Person, clientIP: String?, logger: Logger) -> Caller {
        Caller(
            principal: nil,
            actor: AuditRecord.Actor(
                id: person.id.rawValue, name: person.displayName, clientIP: clientIP,
                person: .init(issuer: person.issuer, subject: person.subject, email: person.email)
            ),
            logger: logger
        )
    }

    static func validate(_ identity: VerifiedIdentity) throws(PeopleError) {
        // PostgreSQL's length() counts code points, as unicodeScalars does (Swift's count counts graphemes).
        func fits(_ text: String, _ maximum: Int) -> Bool { (1...maximum).contains(text.unicodeScalars.count) }
        if !fits(identity.issuer, 2000) { throw .unusableClaim("iss") }
        if !fits(identity.subject, 255) { throw .unusableClaim("sub") }
        if let email = identity.email, !fits(email, 320) { throw .unusableClaim("email") }
    }

    /// A session of `person` opened at `now`, with the client's user agent and address clipped to what is stored.
    static func newSession(
        _ id: SessionID, of person: PersonID, in msp: MSPID, kind: Session.Kind, at now: Date, until expiresAt: Date,
        client: ClientInfo
    ) -> Session {
        Session(
            id: id, mspID: msp, personID: person, kind: kind, createdAt: now, lastUsedAt: now, expiresAt: expiresAt,
            revokedAt: nil, userAgent: client.userAgent.flatMap { clipped($0, to: 500) },
            ip: client.ip.flatMap { clipped($0, to: 64) }
        )
    }

    /// `text` cut to at most `maximum` code points (a display value, such as a name or user agent); `nil` when
    /// empty.
    static func clipped(_ text: String, to maximum: Int) -> String? {
        text.isEmpty ? nil : String(String.UnicodeScalarView(text.unicodeScalars.prefix(maximum)))
    }

    // MARK: - People and grants

    /// The MSP's people by id after `cursor`, at most `limit` of them.
    package func people(of msp: MSPID, after cursor: PersonID?, limit: Int, by caller: Caller) async throws -> [Person] {
        try await database.withMSP(msp, logger: caller.logger) { tx in
            try await tx.people.list(msp: msp, after: cursor, limit: limit)
        }
    }

    /// - Throws: `StoreError.notFound` for a person not of `msp`.
    package func person(_ id: PersonID, of msp: MSPID, by caller: Caller) async throws -> Person {
        try await database.withMSP(msp, logger: caller.logger) { tx in try await tx.people.get(id, msp: msp) }
    }

    /// The grants `id` holds now (role mappings over their groups at their last sign-in, then direct grants),
    /// each with where it came from.
    ///
    /// - Throws: `StoreError.notFound` for a person not of `msp`.
    package func grants(of id: PersonID, in msp: MSPID, by caller: Caller) async throws -> [EffectiveGrant] {
        try await database.withMSP(msp, logger: caller.logger) { tx in
            try await Self.effectiveGrants(of: try await tx.people.get(id, msp: msp), tx: tx)
        }
    }

    /// Gives a person `grant` directly, audited as `person_grant.created`.
    ///
    /// - Throws: `AccessDenial.cannotGrantBroader` when the caller would give more than it holds;
    ///   ``PeopleError/unknownTenant(field:)``; `StoreError.notFound` for a person not of `msp`.
    package func give(_ grant: Grant, to person: PersonID, in msp: MSPID, by caller: Caller) async throws
        -> PersonGrant
    {
        try caller.principal?.authorizeGrant(role: grant.role, scope: grant.scope)
        let now = now()
        let given = PersonGrant(
            id: .random(), personID: person, grant: grant, createdAt: now, createdBy: caller.principal?.id
        )
        return try await database.withMSP(msp, logger: caller.logger) { tx in
            _ = try await tx.people.get(person, msp: msp)
            try await Self.requireTenant(of: grant, field: "/tenant_id", tx: tx)
            try await tx.people.createGrant(given)
            try await tx.audit.record(
                "person_grant.created", on: ("person_grant", given.id.description), after: given.auditSnapshot,
                by: caller, at: now, in: .msp(msp)
            )
            return given
        }
    }

    /// Takes a direct grant back, audited as `person_grant.deleted`.
    ///
    /// - Throws: `StoreError.notFound` for a grant not of that person in `msp`.
    package func takeBack(_ id: PersonGrantID, from person: PersonID, in msp: MSPID, by caller: Caller) async throws {
        let now = now()
        try await database.withMSP(msp, logger: caller.logger) { tx in
            let gone = try await tx.people.deleteGrant(id, of: person, msp: msp)
            try await tx.audit.record(
                "person_grant.deleted", on: ("person_grant", id.description), before: gone.auditSnapshot,
                by: caller, at: now, in: .msp(msp)
            )
        }
    }

    // MARK: - Role mappings

    /// Every role mapping of the MSP.
    package func mappings(of msp: MSPID, by caller: Caller) async throws -> [RoleMapping] {
        try await database.withMSP(msp, logger: caller.logger) { tx in try await tx.people.mappings(msp: msp) }
    }

    /// Maps `claimValue` of the groups claim to `grant`, audited as `role_mapping.created`.
    ///
    /// - Throws: ``PeopleError/invalidClaimValue`` (empty, over 500 characters, control characters);
    ///   `AccessDenial.cannotGrantBroader`; ``PeopleError/unknownTenant(field:)``.
    package func map(_ claimValue: String, to grant: Grant, in msp: MSPID, by caller: Caller) async throws
        -> RoleMapping
    {
        let scalars = claimValue.unicodeScalars
        guard !scalars.isEmpty, scalars.count <= 500,
            !scalars.contains(where: { $0.properties.generalCategory == .control })
        else { throw PeopleError.invalidClaimValue }
        try caller.principal?.authorizeGrant(role: grant.role, scope: grant.scope)
        let now = now()
        let mapping = RoleMapping(id: .random(), claimValue: claimValue, grant: grant, createdAt: now)
        return try await database.withMSP(msp, logger: caller.logger) { tx in
            try await Self.requireTenant(of: grant, field: "/tenant_id", tx: tx)
            try await tx.people.createMapping(mapping, by: caller.principal?.id)
            try await tx.audit.record(
                "role_mapping.created", on: ("role_mapping", mapping.id.description), after: mapping.auditSnapshot,
                by: caller, at: now, in: .msp(msp)
            )
            return mapping
        }
    }

    /// Deletes a role mapping, audited as `role_mapping.deleted`; people it matched lose its grant on their next
    /// request.
    ///
    /// - Throws: `StoreError.notFound` for a mapping not of `msp`.
    package func unmap(_ id: RoleMappingID, in msp: MSPID, by caller: Caller) async throws {
        let now = now()
        try await database.withMSP(msp, logger: caller.logger) { tx in
            let gone = try await tx.people.deleteMapping(id, msp: msp)
            try await tx.audit.record(
                "role_mapping.deleted", on: ("role_mapping", id.description), before: gone.auditSnapshot,
                by: caller, at: now, in: .msp(msp)
            )
        }
    }

    /// The grants `person` holds now: the MSP's role mappings over their `groups`, then their direct grants
    /// (none for a person not yet stored, `known` false).
    static func effectiveGrants(of person: Person, known: Bool = true, tx: Transaction) async throws
        -> [EffectiveGrant]
    {
        let direct = known ? try await tx.people.directGrants(of: person.id, msp: person.mspID) : []
        return EffectiveGrant.workOut(
            groups: person.groups, mappings: try await tx.people.mappings(msp: person.mspID), direct: direct
        )
    }

    private static func requireTenant(of grant: Grant, field: String, tx: Transaction) async throws {
        guard let tenant = grant.scope.tenantID else { return }
        guard try await tx.tenants.exists(tenant) else { throw PeopleError.unknownTenant(field: field) }
    }
}

extension Person {
    /// What the audit log keeps of a person.
    package var auditSnapshot: String {
        var snapshot: [String: any Sendable] = [
            "id": id.description, "issuer": issuer, "subject": subject, "groups": groups,
        ]
        if let email { snapshot["email"] = email }
        if let name { snapshot["name"] = name }
        return AuditJSON.encode(snapshot)
    }
}

extension Grant {
    var auditFields: [String: any Sendable] {
        var fields: [String: any Sendable] = ["role": role.rawValue, "msp_id": scope.mspID.description]
        if let tenant = scope.tenantID { fields["tenant_id"] = tenant.description }
        return fields
    }
}

extension PersonGrant {
    package var auditSnapshot: String {
        AuditJSON.encode(grant.auditFields.merging(["id": id.description, "person_id": personID.description]) { a, _ in a })
    }
}

extension RoleMapping {
    package var auditSnapshot: String {
        AuditJSON.encode(grant.auditFields.merging(["id": id.description, "claim_value": claimValue]) { a, _ in a })
    }
}
