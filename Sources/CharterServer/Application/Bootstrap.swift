package import CharterCore
import CharterServices
package import CharterStore
import Foundation
package import Logging

/// Operator actions of the `charter` CLI that exist before any API key does.
///
/// They run as the schema owner and are audited like API writes, with the operating-system user as the actor.
/// Row-level security is forced, so it binds the owner too: each action selects the MSP (and tenant) it
/// writes to, as the API does.
package struct Bootstrap: Sendable {
    package let database: Database
    package let logger: Logger
    package let actor: AuditRecord.Actor

    package init(database: Database, logger: Logger, actorName: String) {
        self.database = database
        self.logger = logger
        self.actor = AuditRecord.Actor(id: nil, name: actorName)
    }

    /// The operator, as the services' audit helper names a caller.
    private var caller: Caller {
        Caller(principal: nil, actor: actor, logger: logger)
    }

    /// Creates an MSP and an MSP-wide owner key; returns the MSP and the key's bearer token (shown once).
    package func createMSP(name rawName: String) async throws -> (MSP, token: String) {
        guard let name = DisplayName.validated(rawName) else { throw BootstrapError.invalidName }
        let now = Date()
        let msp = MSP(id: .random(), name: name, createdAt: now)
        let token = try await database.withMSP(msp.id, logger: logger) { tx in
            try await tx.msps.create(msp)
            try await tx.audit.record(
                "msp.created", on: ("msp", msp.id.description),
                after: AuditJSON.encode(["id": msp.id.description, "name": name]), by: caller, at: now, in: .msp(msp.id)
            )
            return try await createKey(in: tx, name: "\(name) owner", role: .owner, scope: .msp(msp.id), at: now)
        }
        return (msp, token)
    }

    /// Creates a tenant of an MSP.
    package func createTenant(msp: MSPID, name rawName: String) async throws -> Tenant {
        guard let name = DisplayName.validated(rawName) else { throw BootstrapError.invalidName }
        let now = Date()
        let tenant = Tenant(id: .random(), mspID: msp, name: name, version: 1, createdAt: now, updatedAt: now)
        try await database.withMSP(msp, logger: logger) { tx in
            _ = try await tx.msps.get(msp)
            try await tx.tenants.create(tenant)
            try await tx.enterTenant(tenant.id)
            try await tx.audit.record(
                "tenant.created", on: ("tenant", tenant.id.description), after: tenant.auditSnapshot, by: caller, at: now,
                in: .tenant(tenant.id)
            )
        }
        return tenant
    }

    /// Creates an API key with any role and scope; returns its bearer token (shown once).
    package func createAPIKey(name rawName: String, role: Role, scope: Principal.Scope) async throws -> String {
        guard let name = DisplayName.validated(rawName) else { throw BootstrapError.invalidName }
        switch scope {
        case .msp(let msp):
            return try await database.withMSP(msp, logger: logger) { tx in
                _ = try await tx.msps.get(msp)
                return try await createKey(in: tx, name: name, role: role, scope: scope, at: Date())
            }
        case .tenant(let msp, let tenant):
            // withTenant finds only a tenant of this MSP.
            return try await database.withTenant(tenant, msp: msp, logger: logger) { tx in
                try await createKey(in: tx, name: name, role: role, scope: scope, at: Date())
            }
        }
    }

    private func createKey(in tx: Transaction, name: String, role: Role, scope: Principal.Scope, at now: Date)
        async throws -> String
    {
        let token = APIKeyToken.generate()
        let key = APIKey(
            id: token.keyID,
            principalID: .random(), name: name, grant: Grant(role: role, scope: scope),
            createdAt: now,
            createdBy: nil,
            expiresAt: nil,
            revokedAt: nil,
            lastUsedAt: nil
        )
        try await tx.apiKeys.create(key, secretHash: token.secretHash)
        let chain: AuditLog.Chain = scope.tenantID.map { .tenant($0) } ?? .msp(scope.mspID)
        try await tx.audit.record(
            "api_key.created", on: ("api_key", key.id.description), after: key.auditSnapshot, by: caller, at: now, in: chain
        )
        return token.string
    }
}

/// Why a bootstrap action was refused.
package enum BootstrapError: Error, CustomStringConvertible {
    case invalidName

    package var description: String {
        switch self {
        case .invalidName: "the name must have 1 to \(DisplayName.maximumLength) characters and no control characters"
        }
    }
}
