package import CharterCore
package import Foundation
import PostgresNIO

/// The tenant's standing approvals (migration 0021): approvals for a scope and a duration.
package struct StandingApprovalRepository: Sendable {
    let tx: Transaction

    private static let columns = """
        id, request_id, kind, scope, user_guid, device_id, group_guid, sha256, path, approved_at, expires_at,
        approved_by
        """

    private static func approval(_ row: PostgresRow) throws -> StandingApproval {
        let columns = try row.decode(
            (UUID, UUID, String, String, UUID?, UUID?, UUID?, String?, String?, Date, Date, String).self,
            context: .default
        )
        let scope: StandingApproval.Scope
        switch (columns.3, columns.4, columns.5, columns.6) {
        case ("user_on_computer", let user?, let device?, _):
            scope = .userOnComputer(user: ObjectGUID(user), device: DeviceID(device))
        case ("group", _, _, let group?):
            scope = .group(ObjectGUID(group))
        case ("tenant", _, _, _):
            scope = .tenant
        default:
            throw StoreError.unexpected(sqlState: "standing approval")
        }
        guard let kind = ElevationKind(rawValue: columns.2) else {
            throw StoreError.unexpected(sqlState: "standing approval")
        }
        return StandingApproval(
            id: columns.0, requestID: columns.1, kind: kind, scope: scope, sha256: columns.7, path: columns.8,
            approvedAt: columns.9, expiresAt: columns.10, approvedBy: columns.11
        )
    }

    /// Stores a standing approval of the tenant, given by the principal `approvedByID` (when one).
    package func create(_ approval: StandingApproval, of tenant: TenantID, approvedByID: UUID?) async throws {
        var user: UUID?
        var device: UUID?
        var group: UUID?
        switch approval.scope {
        case .userOnComputer(let guid, let id):
            user = guid.rawValue
            device = id.rawValue
        case .group(let guid):
            group = guid.rawValue
        case .tenant:
            break
        }
        try await tx.query(
            """
            INSERT INTO standing_approvals (tenant_id, id, request_id, kind, scope, user_guid, device_id, group_guid,
                sha256, path, approved_at, expires_at, approved_by_id, approved_by)
            VALUES (\(tenant.rawValue), \(approval.id), \(approval.requestID), \(approval.kind.rawValue),
                \(approval.scope.kind.rawValue), \(user), \(device), \(group), \(approval.sha256), \(approval.path),
                \(approval.approvedAt), \(approval.expiresAt), \(approvedByID), \(approval.approvedBy))
            """
        )
    }

    /// The tenant's standing approvals for `kind` active at `now` that name the same application: the same
    /// SHA-256 (lowercase) when `sha256` is given, else none and the same path ignoring case. Oldest first.
    package func active(
        _ tenant: TenantID, kind: ElevationKind, sha256: String?, path: String?, at now: Date
    ) async throws -> [StandingApproval] {
        let rows = try await tx.query(
            """
            SELECT \(unescaped: Self.columns) FROM standing_approvals
            WHERE tenant_id = \(tenant.rawValue) AND kind = \(kind.rawValue)
              AND approved_at <= \(now) AND expires_at > \(now)
              AND ((\(sha256)::text IS NOT NULL AND sha256 = \(sha256))
                   OR (\(sha256)::text IS NULL AND sha256 IS NULL AND lower(path) = lower(\(path))))
            ORDER BY approved_at, id
            """
        )
        var approvals: [StandingApproval] = []
        for try await row in rows { approvals.append(try Self.approval(row)) }
        return approvals
    }
}

extension Transaction {
    package var standingApprovals: StandingApprovalRepository { StandingApprovalRepository(tx: self) }
}
