package import Logging
package import PostgresNIO

/// Whether row-level security binds a database role, and if not, through which role it escapes.
///
/// A role escapes when it, or any role it is a member of (directly or through other roles, found by walking
/// `pg_auth_members`; with or without `INHERIT`, since membership allows `SET ROLE`), is a superuser, has `BYPASSRLS`, or owns a table
/// or function of Charter's schemas (the owner could turn row-level security off; the owner of the
/// cross-tenant functions, `charter_definer`, sees every tenant).
package enum ServiceRole: Hashable, Sendable {
    /// Row-level security binds the role.
    case bound
    /// The role would escape row-level security: `role` is the checked role, `through` the role that has the
    /// privilege (the same name when the role has it itself).
    case escapes(role: String, through: String, reason: Reason)

    /// What the role that lets the checked role escape has.
    package enum Reason: String, Hashable, Sendable {
        case superuser
        case bypassesRowSecurity
        case ownsSchemaObjects
    }

    /// One role the checked role is or is a member of, with what it holds.
    package struct Facts: Hashable, Sendable {
        package var name: String
        /// 0 for the checked role, 1 for a role it was granted, 2 for a role that one was granted, …
        package var depth: Int
        package var isSuperuser: Bool
        package var bypassesRowSecurity: Bool
        package var ownsSchemaObjects: Bool

        package init(name: String, depth: Int, isSuperuser: Bool, bypassesRowSecurity: Bool, ownsSchemaObjects: Bool) {
            self.name = name
            self.depth = depth
            self.isSuperuser = isSuperuser
            self.bypassesRowSecurity = bypassesRowSecurity
            self.ownsSchemaObjects = ownsSchemaObjects
        }
    }

    /// The verdict for `role` from the facts of the roles it is or is a member of: the nearest role that lets it
    /// escape is named (the role itself first, then what it was granted, …; by name at equal depth), and of
    /// one role's privileges superuser before `BYPASSRLS` before ownership.
    package static func verdict(for role: String, facts: [Facts]) -> ServiceRole {
        let ordered = facts.sorted { ($0.depth, $0.name) < ($1.depth, $1.name) }
        for fact in ordered {
            if fact.isSuperuser { return .escapes(role: role, through: fact.name, reason: .superuser) }
            if fact.bypassesRowSecurity {
                return .escapes(role: role, through: fact.name, reason: .bypassesRowSecurity)
            }
            if fact.ownsSchemaObjects { return .escapes(role: role, through: fact.name, reason: .ownsSchemaObjects) }
        }
        return .bound
    }

    /// Why the service refuses the role, for the start-up error and `/readyz`; `nil` when it is bound.
    package var refusal: String? {
        guard case .escapes(let role, let through, let reason) = self else { return nil }
        let what =
            switch reason {
            case .superuser: "is a superuser"
            case .bypassesRowSecurity: "has BYPASSRLS"
            case .ownsSchemaObjects: "owns tables or functions of the schema"
            }
        let subject = role == through ? "the database role '\(role)'" : "the database role '\(role)' is a member of '\(through)', which"
        return "\(subject) \(what), so row-level security would not bind the service; "
            + "connect as a role that is only a member of charter_app"
    }

    /// Checks the role the connection is logged in as (`current_user`), or `role` when given.
    ///
    /// - Throws: ``StoreError/unavailable`` when the connection closed; `PSQLError` when the query fails.
    package static func check(
        _ role: String? = nil,
        on connection: PostgresConnection,
        logger: Logger
    ) async throws -> ServiceRole {
        let rows = try await connection.statement(
            """
            WITH RECURSIVE member_of (oid, depth) AS (
                SELECT r.oid, 0 FROM pg_catalog.pg_roles r WHERE r.rolname = coalesce(\(role), current_user::text)
                UNION
                -- PostgreSQL refuses cyclic grants, so the walk ends.
                SELECT m.roleid, w.depth + 1 FROM pg_catalog.pg_auth_members m JOIN member_of w ON m.member = w.oid
            )
            SELECT r.rolname::text, min(w.depth)::int8, r.rolsuper, r.rolbypassrls,
                   EXISTS (SELECT 1 FROM pg_catalog.pg_class c
                           JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
                           WHERE c.relowner = r.oid AND n.nspname IN ('public', 'charter_private')
                             AND c.relkind IN ('r', 'p', 'v', 'm'))
                   OR EXISTS (SELECT 1 FROM pg_catalog.pg_proc p
                              JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
                              WHERE p.proowner = r.oid AND n.nspname = 'charter_private'),
                   coalesce(\(role), current_user::text)
            FROM member_of w JOIN pg_catalog.pg_roles r ON r.oid = w.oid
            GROUP BY r.oid, r.rolname, r.rolsuper, r.rolbypassrls
            """,
            logger: logger
        )
        var facts: [Facts] = []
        var checked = role ?? ""
        for try await (name, depth, superuser, bypasses, owns, subject) in rows.decode(
            (String, Int, Bool, Bool, Bool, String).self
        ) {
            facts.append(
                Facts(name: name, depth: depth, isSuperuser: superuser, bypassesRowSecurity: bypasses, ownsSchemaObjects: owns)
            )
            checked = subject
        }
        return verdict(for: checked, facts: facts)
    }
}
