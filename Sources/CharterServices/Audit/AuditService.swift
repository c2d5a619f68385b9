package import CharterCore
package import CharterStore
package import Foundation
package import Logging

/// Reading the audit log: a tenant's or an MSP's events page by page, a tenant's whole filtered log for an
/// export, and the verification of a tenant's hash chain. Authorisation is the caller's.
package struct AuditService: Sendable {
    /// Which of a tenant's events to read.
    package struct Filter: Sendable {
        package var action: String?
        package var from: Date?
        package var until: Date?

        package init(action: String?, from: Date?, until: Date?) {
            self.action = action
            self.from = from
            self.until = until
        }
    }

    let database: Database

    package init(database: Database) {
        self.database = database
    }

    /// The tenant's events matching `filter`, newest first before sequence `cursor`, at most `limit` of them.
    package func events(
        of tenant: TenantID, msp: MSPID, matching filter: Filter, before cursor: Int64?, limit: Int, by caller: Caller
    ) async throws -> [AuditEvent] {
        try await database.withTenant(tenant, msp: msp, logger: caller.logger) { tx in
            try await tx.audit.list(
                .tenant(tenant), before: cursor, limit: limit, action: filter.action, from: filter.from,
                until: filter.until
            )
        }
    }

    /// The tenant's events matching `filter`, oldest first after sequence `after`, at most `limit` of them: one
    /// page of an export, in a transaction of its own.
    package func exportPage(
        of tenant: TenantID, msp: MSPID, matching filter: Filter, after: Int64, limit: Int, logger: Logger
    ) async throws -> [AuditEvent] {
        try await database.withTenant(tenant, msp: msp, logger: logger) { tx in
            try await tx.audit.list(
                .tenant(tenant), before: nil, after: after, limit: limit, action: filter.action, from: filter.from,
                until: filter.until
            )
        }
    }

    /// The MSP's own events, newest first before sequence `cursor`, at most `limit` of them.
    package func events(
        ofMSP msp: MSPID, before cursor: Int64?, limit: Int, by caller: Caller
    ) async throws -> [AuditEvent] {
        try await database.withMSP(msp, logger: caller.logger) { tx in
            try await tx.audit.list(.msp(msp), before: cursor, limit: limit)
        }
    }

    /// Recomputes the tenant's hash chain from the first event.
    package func verify(_ tenant: TenantID, msp: MSPID, by caller: Caller) async throws -> AuditLog.Verification {
        try await database.withTenant(tenant, msp: msp, logger: caller.logger) { tx in
            try await tx.audit.verify(.tenant(tenant))
        }
    }
}
