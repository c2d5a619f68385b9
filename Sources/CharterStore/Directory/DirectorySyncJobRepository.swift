package import CharterCore
package import Foundation
import PostgresNIO

/// The scheduler's job rows: when each connection is next due, and which process holds it.
///
/// A lease is a row's `lease_owner` plus `lease_expires_at`. Whoever syncs a connection (scheduler, API,
/// CLI) holds its lease for the duration, so one connection is never synced twice at once; a process that
/// dies stops renewing and its lease lapses.
package struct DirectorySyncJobRepository: Sendable {
    let tx: Transaction

    /// A connection a scheduler claimed.
    package struct Claim: Sendable, Hashable {
        package var tenantID: TenantID
        package var mspID: MSPID
        package var connectionID: DirectoryConnectionID
    }

    /// Leases up to `limit` due connections of any tenant to `owner` (`FOR UPDATE SKIP LOCKED`).
    package func claimDue(owner: String, lease: Duration, limit: Int) async throws -> [Claim] {
        let rows = try await tx.query(
            """
            SELECT tenant_id, msp_id, connection_id
            FROM charter_private.claim_directory_syncs(\(owner), \(Int32(lease.components.seconds)), \(Int32(limit)))
            """
        )
        var claims: [Claim] = []
        for try await (tenant, msp, connection) in rows.decode((UUID, UUID, UUID).self) {
            claims.append(Claim(tenantID: TenantID(tenant), mspID: MSPID(msp), connectionID: DirectoryConnectionID(connection)))
        }
        return claims
    }

    /// Records runs of any tenant that are still `running` although their connection's lease is free or expired
    /// as failed (`charter_private.abandon_directory_sync_runs`): the process that ran them is gone.
    ///
    /// - Returns: the runs marked, as (tenant, connection, run).
    package func abandonExpiredRuns() async throws -> [(TenantID, DirectoryConnectionID, SyncRunID)] {
        let rows = try await tx.query(
            "SELECT tenant_id, connection_id, run_id FROM charter_private.abandon_directory_sync_runs()"
        )
        var runs: [(TenantID, DirectoryConnectionID, SyncRunID)] = []
        for try await (tenant, connection, run) in rows.decode((UUID, UUID, UUID).self) {
            runs.append((TenantID(tenant), DirectoryConnectionID(connection), SyncRunID(run)))
        }
        return runs
    }

    /// Takes the lease of one connection for `owner` unless another owner holds an unexpired one.
    ///
    /// Runs inside the tenant's transaction. - Returns: whether `owner` now holds the lease.
    package func acquire(
        tenant: TenantID, connection: DirectoryConnectionID, owner: String, lease: Duration
    ) async throws -> Bool {
        let rows = try await tx.query(
            """
            UPDATE directory_sync_jobs
            SET lease_owner = \(owner), lease_expires_at = now() + \(Int32(lease.components.seconds)) * interval '1 second'
            WHERE tenant_id = \(tenant.rawValue) AND connection_id = \(connection.rawValue)
              AND (lease_owner IS NULL OR lease_owner = \(owner) OR lease_expires_at < now())
            RETURNING 1
            """
        )
        for try await _ in rows { return true }
        return false
    }

    /// Extends `owner`'s lease. - Returns: `false` when the lease was lost (expired and taken over).
    package func renew(
        tenant: TenantID, connection: DirectoryConnectionID, owner: String, lease: Duration
    ) async throws -> Bool {
        let rows = try await tx.query(
            """
            UPDATE directory_sync_jobs
            SET lease_expires_at = now() + \(Int32(lease.components.seconds)) * interval '1 second'
            WHERE tenant_id = \(tenant.rawValue) AND connection_id = \(connection.rawValue) AND lease_owner = \(owner)
            RETURNING 1
            """
        )
        for try await _ in rows { return true }
        return false
    }

    /// Gives the lease back and sets when the connection is next due.
    package func release(
        tenant: TenantID, connection: DirectoryConnectionID, owner: String, nextRunAt: Date
    ) async throws {
        try await tx.query(
            """
            UPDATE directory_sync_jobs SET lease_owner = NULL, lease_expires_at = NULL, next_run_at = \(nextRunAt)
            WHERE tenant_id = \(tenant.rawValue) AND connection_id = \(connection.rawValue) AND lease_owner = \(owner)
            """
        )
    }
}

extension DirectorySyncJobRepository {
    /// Counts the tenant's connections other than `connection` whose lease is held and unexpired, after taking a
    /// per-tenant advisory lock held until commit: two starts for one tenant count one after the other.
    package func heldLeases(tenant: TenantID, excluding connection: DirectoryConnectionID) async throws -> Int {
        try await tx.query(
            "SELECT pg_advisory_xact_lock(hashtextextended(\("directory-sync:\(tenant.rawValue.uuidString)"), 0))"
        )
        let rows = try await tx.query(
            """
            SELECT count(*) FROM directory_sync_jobs
            WHERE tenant_id = \(tenant.rawValue) AND connection_id <> \(connection.rawValue)
              AND lease_owner IS NOT NULL AND lease_expires_at > now()
            """
        )
        for try await count in rows.decode(Int64.self) { return Int(count) }
        return 0
    }
}
