package import CharterCore
package import Foundation
import PostgresNIO

/// An elevation request as stored, with its decision.
package struct StoredRequest: Hashable, Sendable {
    package enum Status: String, Hashable, Sendable, CaseIterable {
        case allowed, pending, approved, denied, expired
    }

    package var id: UUID
    package var tenant: TenantID
    package var device: DeviceID
    package var kind: ElevationKind
    package var userSID: String?
    package var userGUID: ObjectGUID?
    package var userUPN: String?
    /// The directory user the request's user matched, whose policy decided it.
    package var directoryUser: ObjectGUID?
    package var computer: ObjectGUID?
    package var hostname: String
    package var application: ElevationRequest.Application?
    package var reason: String?
    package var status: Status
    package var isLogged: Bool
    package var allowsPINOverride: Bool
    package var source: EffectivePolicy.Source
    /// Why, in words an administrator reads (`mode approval_required`, `pre-approved setup.exe (entry 0)`…).
    package var decisionReason: String
    package var sessionMinutes: Int?
    package var createdAt: Date
    package var expiresAt: Date?
    package var decidedAt: Date?
    package var decidedByID: UUID?
    package var decidedBy: String?
    package var comment: String?

    package init(
        id: UUID, tenant: TenantID, device: DeviceID, kind: ElevationKind, userSID: String?, userGUID: ObjectGUID?,
        userUPN: String?, directoryUser: ObjectGUID?, computer: ObjectGUID?, hostname: String,
        application: ElevationRequest.Application?, reason: String?, status: Status, isLogged: Bool,
        allowsPINOverride: Bool, source: EffectivePolicy.Source, decisionReason: String, sessionMinutes: Int?,
        createdAt: Date, expiresAt: Date?, decidedAt: Date? = nil, decidedByID: UUID? = nil, decidedBy: String? = nil,
        comment: String? = nil
    ) {
        self.id = id
        self.tenant = tenant
        self.device = device
        self.kind = kind
        self.userSID = userSID
        self.userGUID = userGUID
        self.userUPN = userUPN
        self.directoryUser = directoryUser
        self.computer = computer
        self.hostname = hostname
        self.application = application
        self.reason = reason
        self.status = status
        self.isLogged = isLogged
        self.allowsPINOverride = allowsPINOverride
        self.source = source
        self.decisionReason = decisionReason
        self.sessionMinutes = sessionMinutes
        self.createdAt = createdAt
        self.expiresAt = expiresAt
        self.decidedAt = decidedAt
        self.decidedByID = decidedByID
        self.decidedBy = decidedBy
        self.comment = comment
    }
}

/// Filters of a request listing; `nil` members do not filter.
package struct RequestFilter: Hashable, Sendable {
    package var status: StoredRequest.Status?
    package var kind: ElevationKind?
    /// A directory user's objectGUID, or the user's SID or UPN as the agent sent it.
    package var user: String?
    /// A directory computer's objectGUID, a device id, or a host name.
    package var computer: String?
    package var from: Date?
    package var until: Date?

    package init(
        status: StoredRequest.Status? = nil, kind: ElevationKind? = nil, user: String? = nil, computer: String? = nil,
        from: Date? = nil, until: Date? = nil
    ) {
        self.status = status
        self.kind = kind
        self.user = user
        self.computer = computer
        self.from = from
        self.until = until
    }
}

/// Where a listing page ends: the last request's creation time and id (newest first).
package struct RequestCursor: Hashable, Sendable {
    package var createdAt: Date
    package var id: UUID

    package init(createdAt: Date, id: UUID) {
        self.createdAt = createdAt
        self.id = id
    }
}

/// A tenant's elevation requests; the MSP-wide listing reads those of every tenant of the MSP.
package struct RequestRepository: Sendable {
    let tx: Transaction

    private static let columnList = """
        id, tenant_id, device_id, kind, user_sid, user_guid, user_upn, directory_user_guid, computer_guid,
        hostname, file_name, path, sha256, signer_subject, certificate_thumbprint, vendor, reason, status,
        logged, pin_override, policy_source, policy_subsetting_id, policy_subsetting_name, decision_reason,
        session_minutes, created_at, expires_at, decided_at, decided_by_id, decided_by, comment
        """
    private static let columns = "SELECT \(columnList) FROM elevation_requests"

    private static func request(_ row: PostgresRow) throws -> StoredRequest {
        let columns = try row.decode(
            (
                UUID, UUID, UUID, String, String?, UUID?, String?, UUID?, UUID?, String, String?, String?, String?,
                String?, String?, String?, String?, String, Bool, Bool, String, UUID?, String?, String, Int?, Date,
                Date?, Date?, UUID?, String?, String?
            ).self,
            context: .default
        )
        guard let kind = ElevationKind(rawValue: columns.3), let status = StoredRequest.Status(rawValue: columns.17) else {
            throw StoreError.unexpected(sqlState: "request")
        }
        let application = columns.10.map {
            ElevationRequest.Application(
                fileName: $0, path: columns.11, sha256: columns.12, signerSubject: columns.13,
                certificateThumbprint: columns.14, vendor: columns.15
            )
        }
        let source: EffectivePolicy.Source =
            if columns.20 == "subsetting", let subsetting = columns.21 {
                .subsetting(id: SubsettingID(subsetting), name: columns.22 ?? "")
            } else {
                .global
            }
        return StoredRequest(
            id: columns.0, tenant: TenantID(columns.1), device: DeviceID(columns.2), kind: kind, userSID: columns.4,
            userGUID: columns.5.map(ObjectGUID.init), userUPN: columns.6, directoryUser: columns.7.map(ObjectGUID.init),
            computer: columns.8.map(ObjectGUID.init), hostname: columns.9, application: application, reason: columns.16,
            status: status, isLogged: columns.18, allowsPINOverride: columns.19, source: source,
            decisionReason: columns.23, sessionMinutes: columns.24, createdAt: columns.25, expiresAt: columns.26,
            decidedAt: columns.27, decidedByID: columns.28, decidedBy: columns.29, comment: columns.30
        )
    }

    package func create(_ request: StoredRequest) async throws {
        let (sourceKind, subsettingID, subsettingName): (String, UUID?, String?) =
            switch request.source {
            case .global: ("global", nil, nil)
            case .subsetting(let id, let name): ("subsetting", id.rawValue, name)
            }
        let application = request.application
        try await tx.query(
            """
            INSERT INTO elevation_requests (tenant_id, id, device_id, kind, user_sid, user_guid, user_upn,
                directory_user_guid, computer_guid, hostname, file_name, path, sha256, signer_subject,
                certificate_thumbprint, vendor, reason, status, logged, pin_override, policy_source,
                policy_subsetting_id, policy_subsetting_name, decision_reason, session_minutes, created_at, expires_at,
                decided_at)
            VALUES (\(request.tenant.rawValue), \(request.id), \(request.device.rawValue), \(request.kind.rawValue),
                \(request.userSID), \(request.userGUID?.rawValue), \(request.userUPN), \(request.directoryUser?.rawValue),
                \(request.computer?.rawValue), \(request.hostname), \(application?.fileName), \(application?.path),
                \(application?.sha256), \(application?.signerSubject), \(application?.certificateThumbprint),
                \(application?.vendor), \(request.reason), \(request.status.rawValue), \(request.isLogged),
                \(request.allowsPINOverride), \(sourceKind), \(subsettingID), \(subsettingName),
                \(request.decisionReason), \(request.sessionMinutes), \(request.createdAt), \(request.expiresAt),
                \(request.decidedAt))
            """
        )
    }

    /// A request of the tenant (or, with only an MSP selected, of any tenant of the MSP).
    package func get(_ id: UUID) async throws -> StoredRequest {
        let rows = try await tx.query("\(unescaped: Self.columns) WHERE id = \(id)")
        for try await row in rows { return try Self.request(row) }
        throw StoreError.notFound
    }

    /// A page of requests, newest first.
    package func list(_ filter: RequestFilter, after cursor: RequestCursor?, limit: Int) async throws -> [StoredRequest] {
        let rows = try await tx.query(
            """
            \(unescaped: Self.columns)
            WHERE (\(filter.status?.rawValue)::text IS NULL OR status = \(filter.status?.rawValue))
              AND (\(filter.kind?.rawValue)::text IS NULL OR kind = \(filter.kind?.rawValue))
              AND (\(filter.user)::text IS NULL OR directory_user_guid::text = lower(\(filter.user))
                   OR user_guid::text = lower(\(filter.user)) OR upper(user_sid) = upper(\(filter.user))
                   OR lower(user_upn) = lower(\(filter.user)))
              AND (\(filter.computer)::text IS NULL OR computer_guid::text = lower(\(filter.computer))
                   OR device_id::text = lower(\(filter.computer)) OR lower(hostname) = lower(\(filter.computer)))
              AND (\(filter.from)::timestamptz IS NULL OR created_at >= \(filter.from))
              AND (\(filter.until)::timestamptz IS NULL OR created_at < \(filter.until))
              AND (\(cursor?.createdAt)::timestamptz IS NULL
                   OR (created_at, id) < (\(cursor?.createdAt), \(cursor?.id)))
            ORDER BY created_at DESC, id DESC LIMIT \(limit)
            """
        )
        var requests: [StoredRequest] = []
        for try await row in rows { requests.append(try Self.request(row)) }
        return requests
    }

    /// Decides a pending request (approve or deny); `nil` when it is not pending any more.
    package func decide(
        _ id: UUID, status: StoredRequest.Status, by principal: UUID?, name: String, comment: String?, at now: Date
    ) async throws -> StoredRequest? {
        let rows = try await tx.query(
            """
            UPDATE elevation_requests
            SET status = \(status.rawValue), decided_at = \(now), decided_by_id = \(principal), decided_by = \(name),
                comment = \(comment)
            WHERE id = \(id) AND status = 'pending' AND expires_at > \(now)
            RETURNING \(unescaped: Self.columnList)
            """
        )
        for try await row in rows { return try Self.request(row) }
        return nil
    }

    /// Expires the tenant's pending requests whose time has come.
    package func expire(_ tenant: TenantID, at now: Date) async throws -> [StoredRequest] {
        let rows = try await tx.query(
            """
            UPDATE elevation_requests SET status = 'expired', decided_at = \(now), decided_by = 'system'
            WHERE tenant_id = \(tenant.rawValue) AND status = 'pending' AND expires_at <= \(now)
            RETURNING \(unescaped: Self.columnList)
            """
        )
        var expired: [StoredRequest] = []
        for try await row in rows { expired.append(try Self.request(row)) }
        return expired
    }

    /// When the same user last had the same application approved on the same device: same SHA-256, or
    /// same path when no hash is known.
    package func lastApproval(
        device: DeviceID, user: ObjectGUID, application: ElevationRequest.Application
    ) async throws -> Date? {
        let rows = try await tx.query(
            """
            SELECT max(decided_at) FROM elevation_requests
            WHERE device_id = \(device.rawValue) AND directory_user_guid = \(user.rawValue) AND status = 'approved'
              AND kind = 'run_as_admin'
              AND ((\(application.sha256)::text IS NOT NULL AND lower(sha256) = lower(\(application.sha256)))
                   OR (\(application.sha256)::text IS NULL AND sha256 IS NULL
                       AND lower(path) = lower(\(application.path))))
            """
        )
        for try await date in rows.decode(Date?.self) { return date }
        return nil
    }

    /// Tenants with pending requests past their time, across tenants (the expiry job).
    package func tenantsWithExpiredRequests() async throws -> [(tenant: TenantID, msp: MSPID)] {
        let rows = try await tx.query("SELECT tenant_id, msp_id FROM charter_private.tenants_with_expired_requests()")
        var tenants: [(tenant: TenantID, msp: MSPID)] = []
        for try await (tenant, msp) in rows.decode((UUID, UUID).self) { tenants.append((TenantID(tenant), MSPID(msp))) }
        return tenants
    }
}

extension Transaction {
    package var requests: RequestRepository { RequestRepository(tx: self) }
}
