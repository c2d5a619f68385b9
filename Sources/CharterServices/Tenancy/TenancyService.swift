package import CharterCore
package import CharterStore
package import Foundation

/// MSPs and their tenants: reading, creating, renaming and deleting them, each in one transaction and audited
/// on the tenant's chain. API keys are in `TenancyService+APIKeys.swift`.
///
/// Authorisation is the caller's: the HTTP layer checks the principal's role and scope before it calls.
package struct TenancyService: Sendable {
    /// A new API key's credential: its id, the hash the store keeps, and the bearer token shown once.
    package struct KeySecret: Sendable {
        package var keyID: APIKeyID
        package var secretHash: [UInt8]
        package var token: String

        package init(keyID: APIKeyID, secretHash: [UInt8], token: String) {
            self.keyID = keyID
            self.secretHash = secretHash
            self.token = token
        }
    }

    let database: Database
    /// Makes the credential of a new key (the server's bearer-token format lives with its authenticator).
    let newKeySecret: @Sendable () -> KeySecret
    /// The clock; tests may pin it.
    let now: @Sendable () -> Date
    /// The MSP overview's figures as last read; `nil` reads them for every request.
    let overviewSnapshots: OverviewSnapshots?

    package init(
        database: Database, newKeySecret: @escaping @Sendable () -> KeySecret,
        overviewSnapshots: OverviewSnapshots? = nil, now: @escaping @Sendable () -> Date = { Date() }
    ) {
        self.database = database
        self.newKeySecret = newKeySecret
        self.overviewSnapshots = overviewSnapshots
        self.now = now
    }

    /// The MSP.
    ///
    /// - Throws: `StoreError.notFound` when it does not exist.
    package func msp(_ msp: MSPID, by caller: Caller) async throws -> MSP {
        try await database.withMSP(msp, logger: caller.logger) { tx in try await tx.msps.get(msp) }
    }

    /// The MSP's tenants by id after `cursor`, at most `limit` of them.
    package func tenants(
        of msp: MSPID, after cursor: TenantID?, limit: Int, by caller: Caller
    ) async throws -> [Tenant] {
        try await database.withMSP(msp, logger: caller.logger) { tx in
            try await tx.tenants.list(msp: msp, after: cursor, limit: limit)
        }
    }

    /// Creates a tenant of `msp` named `name` (already validated).
    ///
    /// - Throws: ``TenancyError/duplicateTenantName(_:)``; `StoreError.notFound` for an MSP that does not exist.
    package func createTenant(named name: String, in msp: MSPID, by caller: Caller) async throws -> Tenant {
        let now = now()
        let tenant = Tenant(id: .random(), mspID: msp, name: name, version: 1, createdAt: now, updatedAt: now)
        do {
            try await database.withMSP(msp, logger: caller.logger) { tx in
                _ = try await tx.msps.get(msp)
                try await tx.tenants.create(tenant)
                try await tx.enterTenant(tenant.id)
                try await tx.audit.record(
                    "tenant.created", on: ("tenant", tenant.id.description), after: tenant.auditSnapshot, by: caller,
                    at: now, in: .tenant(tenant.id)
                )
            }
        } catch StoreError.alreadyExists {
            throw TenancyError.duplicateTenantName(name)
        }
        return tenant
    }

    /// The tenant.
    package func tenant(_ id: TenantID, msp: MSPID, by caller: Caller) async throws -> Tenant {
        try await database.withTenant(id, msp: msp, logger: caller.logger) { tx in try await tx.tenants.get(id) }
    }

    /// Renames the tenant, when it is still at `expectedVersion` (any version when `nil`).
    ///
    /// - Throws: ``TenancyError/duplicateTenantName(_:)``; `StoreError.versionMismatch` for a stale version.
    package func renameTenant(
        _ id: TenantID, msp: MSPID, to name: String, expectedVersion: Int64?, by caller: Caller
    ) async throws -> Tenant {
        let now = now()
        do {
            return try await database.withTenant(id, msp: msp, logger: caller.logger) { tx in
                let before = try await tx.tenants.get(id)
                let after = try await tx.tenants.rename(id, to: name, expectedVersion: expectedVersion, at: now)
                try await tx.audit.record(
                    "tenant.renamed", on: ("tenant", id.description), before: before.auditSnapshot,
                    after: after.auditSnapshot, by: caller, at: now, in: .tenant(id)
                )
                return after
            }
        } catch StoreError.alreadyExists {
            throw TenancyError.duplicateTenantName(name)
        }
    }

    /// Deletes the tenant, when it is still at `expectedVersion` (any version when `nil`).
    package func deleteTenant(_ id: TenantID, msp: MSPID, expectedVersion: Int64?, by caller: Caller) async throws {
        let now = now()
        try await database.withTenant(id, msp: msp, logger: caller.logger) { tx in
            let before = try await tx.tenants.delete(id, expectedVersion: expectedVersion, at: now)
            try await tx.audit.record(
                "tenant.deleted", on: ("tenant", id.description), before: before.auditSnapshot, by: caller, at: now,
                in: .tenant(id)
            )
        }
    }
}

extension Tenant {
    /// What the audit log keeps of a tenant.
    package var auditSnapshot: String {
        AuditJSON.encode(["id": id.description, "name": name, "version": version])
    }
}
