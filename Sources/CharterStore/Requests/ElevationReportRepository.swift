package import CharterCore
package import Foundation
import PostgresNIO

/// How many requests of a group ended each way.
package struct ElevationCounts: Hashable, Sendable {
    package var requests: Int
    package var allowed: Int
    package var approved: Int
    package var denied: Int
    package var pending: Int
    package var expired: Int

    package init(requests: Int, allowed: Int, approved: Int, denied: Int, pending: Int, expired: Int) {
        self.requests = requests
        self.allowed = allowed
        self.approved = approved
        self.denied = denied
        self.pending = pending
        self.expired = expired
    }
}

/// The requests of one application in a period: an application is its file name (case-insensitively), SHA-256
/// and signer subject, the identity a pre-approval names it by.
package struct ApplicationReportRow: Hashable, Sendable {
    /// The file name as most recently requested.
    package var fileName: String
    /// Lower-case hexadecimal, when the agent reported one.
    package var sha256: String?
    package var signerSubject: String?
    /// The most recently reported certificate thumbprint, vendor and path.
    package var certificateThumbprint: String?
    package var vendor: String?
    package var path: String?
    package var counts: ElevationCounts
    /// Distinct users (per tenant), devices and tenants that asked.
    package var users: Int
    package var devices: Int
    package var tenants: Int
    package var firstRequestedAt: Date
    package var lastRequestedAt: Date
}

/// The requests of one user in a period: a user is the directory user the request matched, else the SID,
/// objectGUID or UPN the agent reported, within one tenant.
package struct UserReportRow: Hashable, Sendable {
    package var tenant: TenantID
    /// The synced directory user, with its names when the transaction can read the tenant's directory.
    package var directoryUser: KnownUser.DirectoryIdentity?
    /// The user as most recently reported by an agent.
    package var reported: DeviceUser
    package var counts: ElevationCounts
    package var runAsAdmin: Int
    package var adminSession: Int
    /// Distinct applications (file names) and devices.
    package var applications: Int
    package var devices: Int
    package var firstRequestedAt: Date
    package var lastRequestedAt: Date
}

/// Elevation requests aggregated over a period, of the tenants named or, with `nil`, of every live tenant of the
/// transaction's MSP (row-level security decides which rows are visible: a tenant transaction sees its own).
///
/// The tenants are read first, as an array: PostgreSQL then reads each tenant's period through the
/// `(tenant_id, created_at)` index of `elevation_requests`, not every tenant's requests (measured with `EXPLAIN`;
/// `coalesce` around the array, or the row-level security policy alone, gives no tenant condition to the index).
package struct ElevationReportRepository: Sendable {
    let tx: Transaction

    /// The applications requested in `[from, to)`, most requested first (most approved first when
    /// `minimumApprovals` is given, which keeps only applications approved at least that often).
    package func applications(
        from: Date, to: Date, tenants: [TenantID]?, minimumApprovals: Int?, limit: Int
    ) async throws -> [ApplicationReportRow] {
        let byApprovals = minimumApprovals != nil
        let rows = try await tx.query(
            """
            SELECT (array_agg(file_name ORDER BY created_at DESC, id DESC))[1], lower(sha256), signer_subject,
                   (array_agg(certificate_thumbprint ORDER BY created_at DESC, id DESC)
                        FILTER (WHERE certificate_thumbprint IS NOT NULL))[1],
                   (array_agg(vendor ORDER BY created_at DESC, id DESC) FILTER (WHERE vendor IS NOT NULL))[1],
                   (array_agg(path ORDER BY created_at DESC, id DESC) FILTER (WHERE path IS NOT NULL))[1],
                   count(*), count(*) FILTER (WHERE status = 'allowed'), count(*) FILTER (WHERE status = 'approved'),
                   count(*) FILTER (WHERE status = 'denied'), count(*) FILTER (WHERE status = 'pending'),
                   count(*) FILTER (WHERE status = 'expired'),
                   count(DISTINCT tenant_id::text || '/' || \(unescaped: Self.userKey)), count(DISTINCT device_id),
                   count(DISTINCT tenant_id), min(created_at), max(created_at)
            FROM elevation_requests
            WHERE created_at >= \(from) AND created_at < \(to) AND file_name IS NOT NULL
              AND tenant_id = ANY(ARRAY(
                  SELECT id FROM tenants WHERE msp_id = charter_private.current_msp() AND deleted_at IS NULL
                    AND (\(tenants?.map(\.rawValue))::uuid[] IS NULL OR id = ANY(\(tenants?.map(\.rawValue))::uuid[]))))
            GROUP BY lower(file_name), lower(sha256), signer_subject
            HAVING count(*) FILTER (WHERE status = 'approved') >= \(minimumApprovals ?? 0)
            ORDER BY CASE WHEN \(byApprovals) THEN count(*) FILTER (WHERE status = 'approved') ELSE count(*) END DESC,
                     count(*) DESC, lower(file_name), lower(sha256) NULLS FIRST, signer_subject NULLS FIRST
            LIMIT \(limit)
            """
        )
        var report: [ApplicationReportRow] = []
        for try await row in rows.decode(
            (
                String, String?, String?, String?, String?, String?, Int64, Int64, Int64, Int64, Int64, Int64, Int64,
                Int64, Int64, Date, Date
            ).self
        ) {
            report.append(
                ApplicationReportRow(
                    fileName: row.0, sha256: row.1, signerSubject: row.2, certificateThumbprint: row.3, vendor: row.4,
                    path: row.5,
                    counts: ElevationCounts(
                        requests: Int(row.6), allowed: Int(row.7), approved: Int(row.8), denied: Int(row.9),
                        pending: Int(row.10), expired: Int(row.11)
                    ),
                    users: Int(row.12), devices: Int(row.13), tenants: Int(row.14), firstRequestedAt: row.15,
                    lastRequestedAt: row.16
                )
            )
        }
        return report
    }

    /// The users who asked in `[from, to)`, most requests first.
    package func users(from: Date, to: Date, tenants: [TenantID]?, limit: Int) async throws -> [UserReportRow] {
        let rows = try await tx.query(
            """
            WITH g AS (
                SELECT tenant_id, \(unescaped: Self.userKey) AS user_key,
                       (array_agg(directory_user_guid ORDER BY created_at DESC, id DESC)
                            FILTER (WHERE directory_user_guid IS NOT NULL))[1] AS directory_user_guid,
                       (array_agg(user_sid ORDER BY created_at DESC, id DESC) FILTER (WHERE user_sid IS NOT NULL))[1] AS sid,
                       (array_agg(user_guid ORDER BY created_at DESC, id DESC) FILTER (WHERE user_guid IS NOT NULL))[1] AS guid,
                       (array_agg(user_upn ORDER BY created_at DESC, id DESC) FILTER (WHERE user_upn IS NOT NULL))[1] AS upn,
                       count(*) AS requests, count(*) FILTER (WHERE kind = 'run_as_admin') AS run_as_admin,
                       count(*) FILTER (WHERE kind = 'admin_session') AS admin_session,
                       count(*) FILTER (WHERE status = 'allowed') AS allowed,
                       count(*) FILTER (WHERE status = 'approved') AS approved,
                       count(*) FILTER (WHERE status = 'denied') AS denied,
                       count(*) FILTER (WHERE status = 'pending') AS pending,
                       count(*) FILTER (WHERE status = 'expired') AS expired,
                       count(DISTINCT lower(file_name)) AS applications, count(DISTINCT device_id) AS devices,
                       min(created_at) AS first_at, max(created_at) AS last_at
                FROM elevation_requests
                WHERE created_at >= \(from) AND created_at < \(to)
                  AND tenant_id = ANY(ARRAY(
                  SELECT id FROM tenants WHERE msp_id = charter_private.current_msp() AND deleted_at IS NULL
                    AND (\(tenants?.map(\.rawValue))::uuid[] IS NULL OR id = ANY(\(tenants?.map(\.rawValue))::uuid[]))))
                GROUP BY tenant_id, user_key
                ORDER BY requests DESC, tenant_id, user_key
                LIMIT \(limit))
            SELECT g.tenant_id, g.directory_user_guid, g.sid, g.guid, g.upn, g.requests, g.run_as_admin,
                   g.admin_session, g.allowed, g.approved, g.denied, g.pending, g.expired, g.applications, g.devices,
                   g.first_at, g.last_at, o.sam_account_name, o.user_principal_name, o.display_name
            FROM g
            LEFT JOIN LATERAL (
                SELECT sam_account_name, user_principal_name, display_name FROM directory_objects
                WHERE tenant_id = g.tenant_id AND kind = 'user' AND guid = g.directory_user_guid
                ORDER BY connection_id LIMIT 1) o ON true
            ORDER BY g.requests DESC, g.tenant_id, g.user_key
            """
        )
        var report: [UserReportRow] = []
        for try await row in rows.decode(
            (
                UUID, UUID?, String?, UUID?, String?, Int64, Int64, Int64, Int64, Int64, Int64, Int64, Int64, Int64,
                Int64, Date, Date, String?, String?, String?
            ).self
        ) {
            report.append(
                UserReportRow(
                    tenant: TenantID(row.0),
                    directoryUser: row.1.map {
                        KnownUser.DirectoryIdentity(
                            guid: ObjectGUID($0), samAccountName: row.17, userPrincipalName: row.18, displayName: row.19
                        )
                    },
                    reported: DeviceUser(sid: row.2, guid: row.3.map(ObjectGUID.init), upn: row.4),
                    counts: ElevationCounts(
                        requests: Int(row.5), allowed: Int(row.8), approved: Int(row.9), denied: Int(row.10),
                        pending: Int(row.11), expired: Int(row.12)
                    ),
                    runAsAdmin: Int(row.6), adminSession: Int(row.7), applications: Int(row.13), devices: Int(row.14),
                    firstRequestedAt: row.15, lastRequestedAt: row.16
                )
            )
        }
        return report
    }

    /// Who asked, within a tenant: the matched directory user, else the SID, objectGUID or UPN the agent sent.
    private static let userKey = """
        coalesce(directory_user_guid::text, 'sid:' || upper(user_sid), 'guid:' || user_guid::text,
                 'upn:' || lower(user_upn))
        """
}

extension Transaction {
    package var elevationReports: ElevationReportRepository { ElevationReportRepository(tx: self) }
}
