import CharterCore
import CharterStore
import Foundation
import PostgresNIO
import Testing

/// The database enforces isolation on its own: migration 0011 and what the service checks of its role.
@Suite("Forced row-level security and the service role")
struct ForcedRowSecurityTests {
    static func strings(_ rows: PostgresRowSequence) async throws -> [String] {
        var values: [String] = []
        for try await value in rows.decode(String.self) { values.append(value) }
        return values
    }

    @Test("every table of the schema with row-level security also forces it, so it binds the owner too")
    func everyTableForced() async throws {
        try await TestDatabase.migrate()
        try await TestDatabase.with(TestDatabase.ownerURL) { database in
            let logger = TestDatabase.logger
            let enabled = try await Self.strings(
                try await database.client.query(
                    """
                    SELECT c.oid::regclass::text FROM pg_catalog.pg_class c
                    JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
                    WHERE c.relrowsecurity AND n.nspname NOT IN ('pg_catalog', 'information_schema')
                    """,
                    logger: logger
                )
            )
            let notForced = try await Self.strings(
                try await database.client.query(
                    """
                    SELECT c.oid::regclass::text FROM pg_catalog.pg_class c
                    JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
                    WHERE c.relrowsecurity AND NOT c.relforcerowsecurity
                      AND n.nspname NOT IN ('pg_catalog', 'information_schema')
                    """,
                    logger: logger
                )
            )
            #expect(enabled.contains("tenants") && enabled.contains("audit_events"))
            #expect(notForced == [], "tables with row-level security that do not force it")
        }
    }

    @Test("every SECURITY DEFINER function pins search_path to pg_catalog, pg_temp and sets nothing else")
    func definersPinSearchPath() async throws {
        try await TestDatabase.migrate()
        try await TestDatabase.with(TestDatabase.ownerURL) { database in
            let rows = try await database.client.query(
                """
                SELECT p.oid::regprocedure::text, coalesce(p.proconfig, '{}')
                FROM pg_catalog.pg_proc p
                JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
                WHERE p.prosecdef AND n.nspname NOT IN ('pg_catalog', 'information_schema')
                """,
                logger: TestDatabase.logger
            )
            var functions: [String: [String]] = [:]
            for try await (name, config) in rows.decode((String, [String]).self) { functions[name] = config }
            #expect(functions.keys.contains("charter_private.api_key_credential(uuid)"))
            for (name, config) in functions {
                #expect(config == ["search_path=pg_catalog, pg_temp"], "\(name)")
            }
        }
    }

    @Test("nobody but the owner may create objects in schema public")
    func publicSchemaClosed() async throws {
        try await TestDatabase.migrate()
        try await TestDatabase.with(TestDatabase.appURL) { database in
            let rows = try await database.client.query(
                "SELECT has_schema_privilege(current_user, 'public', 'CREATE')", logger: TestDatabase.logger
            )
            for try await allowed in rows.decode(Bool.self) { #expect(!allowed) }
        }
    }

    @Test("the owner sees no tenant rows without an MSP set and cannot write into another MSP")
    func ownerIsBound() async throws {
        let (msp, tenants) = try await TestDatabase.makeMSP()
        let (otherMSP, _) = try await TestDatabase.makeMSP(tenants: 1)
        try await TestDatabase.with(TestDatabase.ownerURL) { database in
            let logger = TestDatabase.logger
            try await database.withoutTenant(logger: logger) { tx in
                for table in ["msps", "tenants", "principals", "api_keys"] {
                    let rows = try await tx.query("SELECT count(*) FROM \(unescaped: table)")
                    for try await count in rows.decode(Int.self) { #expect(count == 0, "\(table)") }
                }
            }
            let visible = try await database.withMSP(msp, logger: logger) { tx in
                try await Self.strings(try await tx.query("SELECT id::text FROM tenants ORDER BY id"))
            }
            #expect(Set(visible) == Set(tenants.map { $0.rawValue.uuidString.lowercased() }))
            await #expect(throws: StoreError.self) {
                try await database.withMSP(otherMSP, logger: logger) { tx in
                    let now = Date()
                    try await tx.tenants.create(
                        Tenant(id: .random(), mspID: msp, name: "Smuggled", version: 1, createdAt: now, updatedAt: now)
                    )
                }
            }
            // The owner's own way across MSPs is a SECURITY DEFINER function.
            let found = try await database.withoutTenant(logger: logger) { tx in try await tx.tenants.msp(of: tenants[0]) }
            #expect(found == msp)
        }
    }

    @Test("the service role cannot execute the owner's cross-tenant functions")
    func ownerFunctionsClosedToService() async throws {
        let (_, tenants) = try await TestDatabase.makeMSP(tenants: 1)
        try await TestDatabase.with(TestDatabase.appURL) { database in
            await #expect(throws: (any Error).self) {
                try await database.withoutTenant(logger: TestDatabase.logger) { tx in
                    try await tx.tenants.msp(of: tenants[0])
                }
            }
        }
    }

    // MARK: - The service role check

    @Test(
        "a role is refused when it or a role it belongs to is a superuser, has BYPASSRLS or owns the schema",
        arguments: [
            ([ServiceRole.Facts(name: "charter", depth: 0, isSuperuser: false, bypassesRowSecurity: false, ownsSchemaObjects: false),
              .init(name: "charter_app", depth: 1, isSuperuser: false, bypassesRowSecurity: false, ownsSchemaObjects: false)],
             ServiceRole.bound),
            ([.init(name: "charter", depth: 0, isSuperuser: true, bypassesRowSecurity: true, ownsSchemaObjects: false)],
             .escapes(role: "charter", through: "charter", reason: .superuser)),
            ([.init(name: "charter", depth: 0, isSuperuser: false, bypassesRowSecurity: true, ownsSchemaObjects: false)],
             .escapes(role: "charter", through: "charter", reason: .bypassesRowSecurity)),
            ([.init(name: "charter", depth: 0, isSuperuser: false, bypassesRowSecurity: false, ownsSchemaObjects: false),
              .init(name: "rls_off", depth: 1, isSuperuser: false, bypassesRowSecurity: true, ownsSchemaObjects: false)],
             .escapes(role: "charter", through: "rls_off", reason: .bypassesRowSecurity)),
            ([.init(name: "charter", depth: 0, isSuperuser: false, bypassesRowSecurity: false, ownsSchemaObjects: false),
              .init(name: "admins", depth: 1, isSuperuser: true, bypassesRowSecurity: true, ownsSchemaObjects: false)],
             .escapes(role: "charter", through: "admins", reason: .superuser)),
            ([.init(name: "charter_owner", depth: 1, isSuperuser: false, bypassesRowSecurity: false, ownsSchemaObjects: true),
              .init(name: "charter", depth: 0, isSuperuser: false, bypassesRowSecurity: false, ownsSchemaObjects: false)],
             .escapes(role: "charter", through: "charter_owner", reason: .ownsSchemaObjects)),
            ([.init(name: "charter", depth: 0, isSuperuser: false, bypassesRowSecurity: false, ownsSchemaObjects: true),
              .init(name: "a_admins", depth: 1, isSuperuser: true, bypassesRowSecurity: false, ownsSchemaObjects: false)],
             .escapes(role: "charter", through: "charter", reason: .ownsSchemaObjects)),
            ([.init(name: "charter", depth: 0, isSuperuser: false, bypassesRowSecurity: false, ownsSchemaObjects: false),
              .init(name: "a_far", depth: 2, isSuperuser: true, bypassesRowSecurity: false, ownsSchemaObjects: false),
              .init(name: "z_near", depth: 1, isSuperuser: false, bypassesRowSecurity: false, ownsSchemaObjects: true)],
             .escapes(role: "charter", through: "z_near", reason: .ownsSchemaObjects)),
        ]
    )
    func verdicts(facts: [ServiceRole.Facts], expected: ServiceRole) {
        #expect(ServiceRole.verdict(for: "charter", facts: facts) == expected)
    }

    @Test("the service role of the tests is bound by row-level security")
    func serviceRoleBound() async throws {
        try await TestDatabase.migrate()
        let verdict = try await TestDatabase.with(TestDatabase.appURL) { database in
            try await database.client.withOpenConnection { connection in
                try await ServiceRole.check(on: connection, logger: TestDatabase.logger)
            }
        }
        #expect(verdict == .bound)
        #expect(verdict.refusal == nil)
    }

    @Test("a member of the owner, directly or through another role, is refused, naming the owner")
    func memberOfOwnerRefused() async throws {
        try await TestDatabase.migrate()
        try await ThrowawayRoles.with(count: 3) { roles, run in
            let (direct, nested, middle) = (roles[0], roles[1], roles[2])
            try await run("GRANT charter_app, charter_owner TO \(direct)")
            try await run("GRANT charter_owner TO \(middle)")
            try await run("GRANT \(middle) TO \(nested)")
            for role in [direct, nested] {
                let verdict = try await ThrowawayRoles.check(role)
                #expect(verdict == .escapes(role: role, through: "charter_owner", reason: .ownsSchemaObjects))
                #expect(verdict.refusal?.contains("member of 'charter_owner'") == true)
            }
        }
    }

    @Test("a member of charter_definer, the owner of the cross-tenant functions, is refused")
    func memberOfDefinerRefused() async throws {
        try await TestDatabase.migrate()
        try await ThrowawayRoles.with(count: 1) { roles, run in
            try await run("GRANT charter_definer TO \(roles[0])")
            #expect(try await ThrowawayRoles.check(roles[0]) == .escapes(role: roles[0], through: "charter_definer", reason: .ownsSchemaObjects))
        }
    }

    @Test("a role that owns a table of the schema is refused")
    func tableOwnerRefused() async throws {
        try await TestDatabase.migrate()
        try await ThrowawayRoles.with(count: 1) { roles, run in
            let role = roles[0]
            let table = "public.\(role)_table"
            try await run("GRANT \(role) TO CURRENT_USER")
            try await run("GRANT CREATE ON SCHEMA public TO \(role)")
            try await run("CREATE TABLE \(table) (x int)")
            try await run("ALTER TABLE \(table) OWNER TO \(role)")
            try await run("REVOKE CREATE ON SCHEMA public FROM \(role)")
            let verdict = try await ThrowawayRoles.check(role)
            try await run("DROP TABLE \(table)")
            #expect(verdict == .escapes(role: role, through: role, reason: .ownsSchemaObjects))
        }
    }

    @Test("a superuser is refused")
    func superuserRefused() async throws {
        try await TestDatabase.migrate()
        let superuser = try await TestDatabase.with(TestDatabase.ownerURL) { database in
            try await Self.strings(
                try await database.client.query("SELECT rolname FROM pg_roles WHERE rolsuper ORDER BY oid LIMIT 1", logger: TestDatabase.logger)
            ).first
        }
        let name = try #require(superuser)
        #expect(try await ThrowawayRoles.check(name) == .escapes(role: name, through: name, reason: .superuser))
    }
}

/// Login-less roles made for one test by the owner (which has `CREATEROLE`) and dropped after it.
enum ThrowawayRoles {
    static func with(
        count: Int,
        _ body: @Sendable ([String], _ run: @Sendable (String) async throws -> Void) async throws -> Void
    ) async throws {
        let roles = (0..<count).map { _ in "charter_test_" + UUID().uuidString.prefix(8).lowercased() }
        try await TestDatabase.with(TestDatabase.ownerURL) { database in
            @Sendable func run(_ sql: String) async throws {
                try await database.client.query(PostgresQuery(unsafeSQL: sql), logger: TestDatabase.logger)
            }
            for role in roles { try await run("CREATE ROLE \(role) NOLOGIN") }
            let outcome: Result<Void, any Error>
            do {
                try await body(roles, run)
                outcome = .success(())
            } catch {
                outcome = .failure(error)
            }
            for role in roles.reversed() { try await run("DROP ROLE IF EXISTS \(role)") }
            try outcome.get()
        }
    }

    /// The verdict for `role`, asked on the owner's connection.
    static func check(_ role: String) async throws -> ServiceRole {
        try await TestDatabase.with(TestDatabase.ownerURL) { database in
            try await database.client.withOpenConnection { connection in
                try await ServiceRole.check(role, on: connection, logger: TestDatabase.logger)
            }
        }
    }
}
