package import CharterCore
package import Foundation
import PostgresNIO

/// People of an MSP, its role mappings and the direct grants of its owners; used inside the MSP's transaction.
package struct PeopleRepository: Sendable {
    let tx: Transaction

    private typealias PersonRow = (UUID, UUID, String, String, String?, String?, [String], Date?, Date)

    private static let personColumns = """
        SELECT id, msp_id, issuer, subject, email, name, groups, last_sign_in_at, created_at FROM people
        """

    private static func person(_ row: PersonRow) -> Person {
        Person(
            id: PersonID(row.0), mspID: MSPID(row.1), issuer: row.2, subject: row.3, email: row.4, name: row.5,
            groups: row.6, lastSignInAt: row.7, createdAt: row.8
        )
    }

    private static func grant(msp: MSPID, role: String, tenant: UUID?) throws -> Grant {
        guard let role = Role(rawValue: role) else { throw StoreError.unexpected(sqlState: "role") }
        return Grant(role: role, scope: tenant.map { .tenant(msp, TenantID($0)) } ?? .msp(msp))
    }

    /// `id, claim_value, role, tenant_id, created_at` of `role_mappings`.
    private typealias MappingRow = (UUID, String, String, UUID?, Date)

    private static func mapping(_ row: MappingRow, msp: MSPID) throws -> RoleMapping {
        RoleMapping(
            id: RoleMappingID(row.0), claimValue: row.1, grant: try grant(msp: msp, role: row.2, tenant: row.3),
            createdAt: row.4
        )
    }

    /// `id, role, tenant_id, created_at, created_by` of `person_grants`.
    private typealias GrantRow = (UUID, String, UUID?, Date, UUID?)

    private static func personGrant(_ row: GrantRow, of person: PersonID, msp: MSPID) throws -> PersonGrant {
        PersonGrant(
            id: PersonGrantID(row.0), personID: person, grant: try grant(msp: msp, role: row.1, tenant: row.2),
            createdAt: row.3, createdBy: row.4.map(PrincipalID.init)
        )
    }

    // MARK: - People

    /// The person the provider `issuer` names `subject` in `msp`, if they signed in before.
    package func find(issuer: String, subject: String, msp: MSPID) async throws -> Person? {
        let rows = try await tx.query(
            """
            \(unescaped: Self.personColumns)
            WHERE msp_id = \(msp.rawValue) AND issuer = \(issuer) AND subject = \(subject)
            """
        )
        for try await row in rows.decode(PersonRow.self) { return Self.person(row) }
        return nil
    }

    /// Stores a person first seen, or what their latest sign-in said of them (email, name, groups, time).
    package func save(_ person: Person) async throws {
        try await tx.query(
            """
            INSERT INTO people (msp_id, id, issuer, subject, email, name, groups, last_sign_in_at, created_at)
            VALUES (\(person.mspID.rawValue), \(person.id.rawValue), \(person.issuer), \(person.subject),
                    \(person.email), \(person.name), \(person.groups), \(person.lastSignInAt), \(person.createdAt))
            ON CONFLICT (msp_id, id) DO UPDATE
                SET email = excluded.email, name = excluded.name, groups = excluded.groups,
                    last_sign_in_at = excluded.last_sign_in_at
            """
        )
    }

    /// - Throws: ``StoreError/notFound`` for a person not of `msp`.
    package func get(_ id: PersonID, msp: MSPID) async throws -> Person {
        let rows = try await tx.query(
            """
            \(unescaped: Self.personColumns)
            WHERE msp_id = \(msp.rawValue) AND id = \(id.rawValue)
            """
        )
        for try await row in rows.decode(PersonRow.self) { return Self.person(row) }
        throw StoreError.notFound
    }

    /// A page of the MSP's people by id after `cursor`.
    package func list(msp: MSPID, after cursor: PersonID?, limit: Int) async throws -> [Person] {
        let rows = try await tx.query(
            """
            \(unescaped: Self.personColumns)
            WHERE msp_id = \(msp.rawValue) AND (\(cursor?.rawValue)::uuid IS NULL OR id > \(cursor?.rawValue))
            ORDER BY id LIMIT \(limit)
            """
        )
        var people: [Person] = []
        for try await row in rows.decode(PersonRow.self) { people.append(Self.person(row)) }
        return people
    }

    // MARK: - Role mappings

    /// Every role mapping of the MSP, by id; mappings to a deleted tenant are left out.
    package func mappings(msp: MSPID) async throws -> [RoleMapping] {
        let rows = try await tx.query(
            """
            SELECT m.id, m.claim_value, m.role, m.tenant_id, m.created_at
            FROM role_mappings m LEFT JOIN tenants t ON t.id = m.tenant_id
            WHERE m.msp_id = \(msp.rawValue) AND (m.tenant_id IS NULL OR t.deleted_at IS NULL)
            ORDER BY m.id
            """
        )
        var mappings: [RoleMapping] = []
        for try await row in rows.decode(MappingRow.self) { mappings.append(try Self.mapping(row, msp: msp)) }
        return mappings
    }

    package func createMapping(_ mapping: RoleMapping, by creator: PrincipalID?) async throws {
        let scope = mapping.grant.scope
        try await tx.query(
            """
            INSERT INTO role_mappings (msp_id, id, claim_value, role, tenant_id, created_at, created_by)
            VALUES (\(scope.mspID.rawValue), \(mapping.id.rawValue), \(mapping.claimValue),
                    \(mapping.grant.role.rawValue), \(scope.tenantID?.rawValue), \(mapping.createdAt),
                    \(creator?.rawValue))
            """
        )
    }

    /// Deletes a mapping and returns it.
    ///
    /// - Throws: ``StoreError/notFound`` for a mapping not of `msp`.
    package func deleteMapping(_ id: RoleMappingID, msp: MSPID) async throws -> RoleMapping {
        let rows = try await tx.query(
            """
            DELETE FROM role_mappings WHERE msp_id = \(msp.rawValue) AND id = \(id.rawValue)
            RETURNING id, claim_value, role, tenant_id, created_at
            """
        )
        for try await row in rows.decode(MappingRow.self) { return try Self.mapping(row, msp: msp) }
        throw StoreError.notFound
    }

    // MARK: - Direct grants

    /// The direct grants of a person, by id; grants on a deleted tenant are left out.
    package func directGrants(of person: PersonID, msp: MSPID) async throws -> [PersonGrant] {
        let rows = try await tx.query(
            """
            SELECT g.id, g.role, g.tenant_id, g.created_at, g.created_by
            FROM person_grants g LEFT JOIN tenants t ON t.id = g.tenant_id
            WHERE g.msp_id = \(msp.rawValue) AND g.person_id = \(person.rawValue)
              AND (g.tenant_id IS NULL OR t.deleted_at IS NULL)
            ORDER BY g.id
            """
        )
        var grants: [PersonGrant] = []
        for try await row in rows.decode(GrantRow.self) { grants.append(try Self.personGrant(row, of: person, msp: msp)) }
        return grants
    }

    package func createGrant(_ grant: PersonGrant) async throws {
        let scope = grant.grant.scope
        try await tx.query(
            """
            INSERT INTO person_grants (msp_id, id, person_id, role, tenant_id, created_at, created_by)
            VALUES (\(scope.mspID.rawValue), \(grant.id.rawValue), \(grant.personID.rawValue),
                    \(grant.grant.role.rawValue), \(scope.tenantID?.rawValue), \(grant.createdAt),
                    \(grant.createdBy?.rawValue))
            """
        )
    }

    /// Deletes a direct grant of a person and returns it.
    ///
    /// - Throws: ``StoreError/notFound`` for a grant not of that person in `msp`.
    package func deleteGrant(_ id: PersonGrantID, of person: PersonID, msp: MSPID) async throws -> PersonGrant {
        let rows = try await tx.query(
            """
            DELETE FROM person_grants
            WHERE msp_id = \(msp.rawValue) AND person_id = \(person.rawValue) AND id = \(id.rawValue)
            RETURNING id, role, tenant_id, created_at, created_by
            """
        )
        for try await row in rows.decode(GrantRow.self) { return try Self.personGrant(row, of: person, msp: msp) }
        throw StoreError.notFound
    }
}
