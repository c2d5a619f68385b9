package import CharterCore
package import Foundation
import PostgresNIO

/// An enrolled device as stored (its token only as a hash, its PIN secret sealed).
package struct Device: Hashable, Sendable {
    package var id: DeviceID
    package var hostname: String
    package var os: String?
    package var agentVersion: String
    package var reportedSID: String?
    package var reportedGUID: ObjectGUID?
    /// The directory computer the device is linked to.
    package var computer: ObjectGUID?
    /// The raw X25519 public key bundles are encrypted to.
    package var encryptionKey: Data
    /// The raw Ed25519 public key the device registered.
    package var signingKey: Data
    package var pinSecretSealed: String
    package var enrolledAt: Date
    package var reenrolledAt: Date?
    package var lastSeenAt: Date?
    /// The bundle version the agent reported holding at its last check-in.
    package var heldVersion: Int64?
    package var revokedAt: Date?
    /// The version of the device's current bundle, if one was made.
    package var bundleVersion: Int64?
    /// Whether the device waits for an administrator's approval (it claimed an enrolled or revoked computer
    /// without proof by that device's key).
    package var isPendingApproval: Bool
    /// When the device token stops working; the agent renews it before then.
    package var tokenExpiresAt: Date

    package init(
        id: DeviceID, hostname: String, os: String?, agentVersion: String, reportedSID: String?,
        reportedGUID: ObjectGUID?, computer: ObjectGUID?, encryptionKey: Data, signingKey: Data,
        pinSecretSealed: String, enrolledAt: Date, reenrolledAt: Date? = nil, lastSeenAt: Date? = nil,
        heldVersion: Int64? = nil, revokedAt: Date? = nil, bundleVersion: Int64? = nil, isPendingApproval: Bool = false,
        tokenExpiresAt: Date
    ) {
        self.id = id
        self.hostname = hostname
        self.os = os
        self.agentVersion = agentVersion
        self.reportedSID = reportedSID
        self.reportedGUID = reportedGUID
        self.computer = computer
        self.encryptionKey = encryptionKey
        self.signingKey = signingKey
        self.pinSecretSealed = pinSecretSealed
        self.enrolledAt = enrolledAt
        self.reenrolledAt = reenrolledAt
        self.lastSeenAt = lastSeenAt
        self.heldVersion = heldVersion
        self.revokedAt = revokedAt
        self.bundleVersion = bundleVersion
        self.isPendingApproval = isPendingApproval
        self.tokenExpiresAt = tokenExpiresAt
    }
}

/// A user seen on a device; at least one identifier is set.
package struct DeviceUser: Hashable, Sendable {
    package var sid: String?
    package var guid: ObjectGUID?
    package var upn: String?

    package init(sid: String?, guid: ObjectGUID?, upn: String?) {
        self.sid = sid
        self.guid = guid
        self.upn = upn
    }

    /// The key a user is remembered under: its SID, else its objectGUID, else its UPN in lower case.
    package var identity: String? {
        if let sid { return "sid:" + sid.uppercased() }
        if let guid { return "guid:" + guid.description }
        if let upn { return "upn:" + upn.lowercased() }
        return nil
    }
}

/// A tenant's enrolled devices and the users seen on them.
package struct DeviceRepository: Sendable {
    let tx: Transaction

    /// What agent authentication needs to know of a device before any tenant is selected.
    package struct Credential: Sendable {
        package var tokenHash: [UInt8]
        package var tokenExpiresAt: Date
        /// The token a renewal replaced, valid until its own expiry.
        package var previousTokenHash: [UInt8]?
        package var previousTokenExpiresAt: Date?
        package var isPendingApproval: Bool
        /// The device's tenant and its MSP, read together.
        package var binding: TenantBinding
        package var tenant: TenantID { binding.tenant }
        package var msp: MSPID { binding.msp }
    }

    /// The key a device signs challenges with, and where it lives.
    package struct SigningIdentity: Sendable {
        package var signingKey: Data
        /// The device's tenant and its MSP, read together.
        package var binding: TenantBinding
        package var tenant: TenantID { binding.tenant }
    }

    typealias Row = (
        UUID, String, String?, String, String?, UUID?, UUID?, Data, Data, String, Date, Date?, Date?, Int64?, Date?,
        Int64?, Bool, Date
    )
    static let columns = """
        SELECT d.id, d.hostname, d.os, d.agent_version, d.reported_sid, d.reported_guid, d.computer_guid,
               d.encryption_key, d.signing_key, d.pin_secret_sealed, d.enrolled_at, d.reenrolled_at, d.last_seen_at,
               d.held_version, d.revoked_at, b.version, d.pending_approval, d.token_expires_at
        FROM devices d
        LEFT JOIN device_bundles b ON b.tenant_id = d.tenant_id AND b.device_id = d.id
        """

    static func device(_ row: Row) -> Device {
        Device(
            id: DeviceID(row.0), hostname: row.1, os: row.2, agentVersion: row.3, reportedSID: row.4,
            reportedGUID: row.5.map(ObjectGUID.init), computer: row.6.map(ObjectGUID.init), encryptionKey: row.7,
            signingKey: row.8, pinSecretSealed: row.9, enrolledAt: row.10, reenrolledAt: row.11, lastSeenAt: row.12,
            heldVersion: row.13, revokedAt: row.14, bundleVersion: row.15, isPendingApproval: row.16,
            tokenExpiresAt: row.17
        )
    }

    /// A device that is not revoked, looked up across tenants.
    package func credential(for id: DeviceID) async throws -> Credential? {
        let rows = try await tx.query(
            """
            SELECT token_hash, token_expires_at, previous_token_hash, previous_token_expires_at, pending_approval,
                   tenant_id, msp_id
            FROM charter_private.device_session(\(id.rawValue))
            """
        )
        for try await (hash, expiresAt, previousHash, previousExpiresAt, pending, tenant, msp) in rows.decode(
            (Data, Date, Data?, Date?, Bool, UUID, UUID).self
        ) {
            return Credential(
                tokenHash: Array(hash), tokenExpiresAt: expiresAt, previousTokenHash: previousHash.map(Array.init),
                previousTokenExpiresAt: previousExpiresAt, isPendingApproval: pending,
                binding: TenantBinding(tenant: TenantID(tenant), msp: MSPID(msp))
            )
        }
        return nil
    }

    /// The signing key of a device that is not revoked, looked up across tenants.
    package func signingIdentity(for id: DeviceID) async throws -> SigningIdentity? {
        let rows = try await tx.query(
            "SELECT signing_key, tenant_id, msp_id FROM charter_private.device_signing_key(\(id.rawValue))"
        )
        for try await (key, tenant, msp) in rows.decode((Data, UUID, UUID).self) {
            return SigningIdentity(signingKey: key, binding: TenantBinding(tenant: TenantID(tenant), msp: MSPID(msp)))
        }
        return nil
    }

    /// Whether a device of the tenant other than `excluding` registered `signingKey`.
    package func isSigningKeyTaken(_ tenant: TenantID, _ signingKey: Data, excluding: DeviceID?) async throws -> Bool {
        let rows = try await tx.query(
            """
            SELECT 1 FROM devices
            WHERE tenant_id = \(tenant.rawValue) AND signing_key = \(signingKey)
              AND (\(excluding?.rawValue)::uuid IS NULL OR id <> \(excluding?.rawValue))
            """
        )
        for try await _ in rows { return true }
        return false
    }

    /// Gives a device a new token (renewal); the one it replaces keeps working until its own expiry.
    package func renewToken(_ tenant: TenantID, id: DeviceID, tokenHash: [UInt8], expiresAt: Date) async throws {
        try await tx.query(
            """
            UPDATE devices SET previous_token_hash = token_hash, previous_token_expires_at = token_expires_at,
                token_hash = \(Data(tokenHash)), token_expires_at = \(expiresAt)
            WHERE tenant_id = \(tenant.rawValue) AND id = \(id.rawValue) AND revoked_at IS NULL
            """
        )
    }

    /// Approves a device that waits for approval.
    ///
    /// - Returns: Whether it was waiting.
    package func approve(_ tenant: TenantID, id: DeviceID) async throws -> Bool {
        let rows = try await tx.query(
            """
            UPDATE devices SET pending_approval = false
            WHERE tenant_id = \(tenant.rawValue) AND id = \(id.rawValue) AND pending_approval AND revoked_at IS NULL
            RETURNING id
            """
        )
        for try await _ in rows { return true }
        return false
    }

    /// Restores a revoked device; its token counts as expired, so the agent renews it by signature.
    ///
    /// - Returns: Whether it was revoked.
    package func restore(_ tenant: TenantID, id: DeviceID, at now: Date) async throws -> Bool {
        let rows = try await tx.query(
            """
            UPDATE devices SET revoked_at = NULL, token_expires_at = \(now), previous_token_hash = NULL,
                previous_token_expires_at = NULL
            WHERE tenant_id = \(tenant.rawValue) AND id = \(id.rawValue) AND revoked_at IS NOT NULL
            RETURNING id
            """
        )
        for try await _ in rows { return true }
        return false
    }

    package func create(
        _ device: Device, in tenant: TenantID, tokenHash: [UInt8], enrollmentToken: EnrollmentTokenID
    ) async throws {
        try await tx.query(
            """
            INSERT INTO devices (tenant_id, id, hostname, os, agent_version, reported_sid, reported_guid, computer_guid,
                                 encryption_key, signing_key, token_hash, pin_secret_sealed, enrollment_token_id,
                                 enrolled_at, last_seen_at, pending_approval, token_expires_at)
            VALUES (\(tenant.rawValue), \(device.id.rawValue), \(device.hostname), \(device.os), \(device.agentVersion),
                    \(device.reportedSID), \(device.reportedGUID?.rawValue), \(device.computer?.rawValue),
                    \(device.encryptionKey), \(device.signingKey), \(Data(tokenHash)), \(device.pinSecretSealed),
                    \(enrollmentToken.rawValue), \(device.enrolledAt), \(device.enrolledAt), \(device.isPendingApproval),
                    \(device.tokenExpiresAt))
            """
        )
    }

    /// Replaces the keys, token and PIN secret of an existing device (re-enrollment); its current bundle,
    /// encrypted to the old key, is marked for re-issue.
    package func reenroll(
        _ device: Device, in tenant: TenantID, tokenHash: [UInt8], enrollmentToken: EnrollmentTokenID, at now: Date
    ) async throws {
        try await tx.query(
            """
            UPDATE devices SET hostname = \(device.hostname), os = \(device.os), agent_version = \(device.agentVersion),
                reported_sid = \(device.reportedSID), reported_guid = \(device.reportedGUID?.rawValue),
                computer_guid = \(device.computer?.rawValue), encryption_key = \(device.encryptionKey),
                signing_key = \(device.signingKey), token_hash = \(Data(tokenHash)),
                pin_secret_sealed = \(device.pinSecretSealed), enrollment_token_id = \(enrollmentToken.rawValue),
                reenrolled_at = \(now), last_seen_at = \(now), held_version = NULL,
                token_expires_at = \(device.tokenExpiresAt), previous_token_hash = NULL, previous_token_expires_at = NULL
            WHERE tenant_id = \(tenant.rawValue) AND id = \(device.id.rawValue) AND revoked_at IS NULL
            """
        )
        try await tx.query(
            """
            UPDATE device_bundles SET feed_seq = -1
            WHERE tenant_id = \(tenant.rawValue) AND device_id = \(device.id.rawValue)
            """
        )
    }

    /// The devices that stand for the same computer: linked to `computer`, or reporting the same objectGUID or
    /// SID, or (when nothing else identifies them) the same host name; newest first.
    ///
    /// - Parameters:
    ///   - revoked: `false` for enrolled devices (not revoked, not waiting for approval), `true` for revoked ones.
    ///   - excluding: A device to leave out.
    package func standingFor(
        _ tenant: TenantID, computer: ObjectGUID?, reportedGUID: ObjectGUID?, reportedSID: String?, hostname: String,
        revoked: Bool, excluding: DeviceID? = nil
    ) async throws -> [Device] {
        let rows = try await tx.query(
            """
            \(unescaped: Self.columns)
            WHERE d.tenant_id = \(tenant.rawValue)
              AND (CASE WHEN \(revoked) THEN d.revoked_at IS NOT NULL ELSE d.revoked_at IS NULL AND NOT d.pending_approval END)
              AND (\(excluding?.rawValue)::uuid IS NULL OR d.id <> \(excluding?.rawValue))
              AND ((\(computer?.rawValue)::uuid IS NOT NULL AND d.computer_guid = \(computer?.rawValue))
                OR (\(reportedGUID?.rawValue)::uuid IS NOT NULL AND d.reported_guid = \(reportedGUID?.rawValue))
                OR (\(reportedSID)::text IS NOT NULL AND upper(d.reported_sid) = upper(\(reportedSID)))
                OR (d.computer_guid IS NULL AND d.reported_guid IS NULL AND d.reported_sid IS NULL
                    AND lower(d.hostname) = lower(\(hostname))))
            ORDER BY d.enrolled_at DESC LIMIT 100
            """
        )
        var devices: [Device] = []
        for try await row in rows.decode(Row.self) { devices.append(Self.device(row)) }
        return devices
    }

    package func get(_ tenant: TenantID, id: DeviceID) async throws -> Device {
        let rows = try await tx.query(
            "\(unescaped: Self.columns) WHERE d.tenant_id = \(tenant.rawValue) AND d.id = \(id.rawValue)"
        )
        for try await row in rows.decode(Row.self) { return Self.device(row) }
        throw StoreError.notFound
    }

    /// The devices among `ids` that are not revoked, in no particular order.
    package func get(_ tenant: TenantID, ids: [DeviceID]) async throws -> [Device] {
        guard !ids.isEmpty else { return [] }
        let rows = try await tx.query(
            """
            \(unescaped: Self.columns)
            WHERE d.tenant_id = \(tenant.rawValue) AND d.id = ANY(\(ids.map(\.rawValue))::uuid[]) AND d.revoked_at IS NULL
            """
        )
        var devices: [Device] = []
        for try await row in rows.decode(Row.self) { devices.append(Self.device(row)) }
        return devices
    }

    package func list(_ tenant: TenantID, after cursor: DeviceID?, limit: Int) async throws -> [Device] {
        let rows = try await tx.query(
            """
            \(unescaped: Self.columns)
            WHERE d.tenant_id = \(tenant.rawValue) AND (\(cursor?.rawValue)::uuid IS NULL OR d.id > \(cursor?.rawValue))
            ORDER BY d.id LIMIT \(limit)
            """
        )
        var devices: [Device] = []
        for try await row in rows.decode(Row.self) { devices.append(Self.device(row)) }
        return devices
    }

    /// Revokes a device: its token stops working at once. Revoking a revoked device changes nothing.
    package func revoke(_ tenant: TenantID, id: DeviceID, at now: Date) async throws -> Device {
        try await tx.query(
            """
            UPDATE devices SET revoked_at = \(now)
            WHERE tenant_id = \(tenant.rawValue) AND id = \(id.rawValue) AND revoked_at IS NULL
            """
        )
        return try await get(tenant, id: id)
    }

    /// Links a device to its directory computer once one is found.
    package func link(_ tenant: TenantID, id: DeviceID, to computer: ObjectGUID) async throws {
        try await tx.query(
            "UPDATE devices SET computer_guid = \(computer.rawValue) WHERE tenant_id = \(tenant.rawValue) AND id = \(id.rawValue)"
        )
    }

    /// Records a check-in.
    ///
    /// - Returns: Whether a user was seen on the device for the first time.
    package func checkIn(
        _ tenant: TenantID, id: DeviceID, agentVersion: String, heldVersion: Int64?, users: [DeviceUser], at now: Date
    ) async throws -> Bool {
        try await tx.query(
            """
            UPDATE devices SET agent_version = \(agentVersion), held_version = \(heldVersion), last_seen_at = \(now)
            WHERE tenant_id = \(tenant.rawValue) AND id = \(id.rawValue)
            """
        )
        let known = users.compactMap { user in user.identity.map { (identity: $0, user: user) } }
        guard !known.isEmpty else { return false }
        let rows = try await tx.query(
            """
            INSERT INTO device_users (tenant_id, device_id, identity, sid, guid, upn, first_seen_at, last_seen_at)
            SELECT \(tenant.rawValue), \(id.rawValue), u.identity, NULLIF(u.sid, ''), NULLIF(u.guid, '')::uuid,
                   NULLIF(u.upn, ''), \(now), \(now)
            FROM unnest(\(known.map(\.identity))::text[], \(known.map { $0.user.sid ?? "" })::text[],
                        \(known.map { $0.user.guid?.description ?? "" })::text[],
                        \(known.map { $0.user.upn ?? "" })::text[])
                 AS u (identity, sid, guid, upn)
            ON CONFLICT (tenant_id, device_id, identity) DO UPDATE
                SET last_seen_at = excluded.last_seen_at,
                    sid = coalesce(excluded.sid, device_users.sid),
                    guid = coalesce(excluded.guid, device_users.guid),
                    upn = coalesce(excluded.upn, device_users.upn)
            RETURNING (xmax = 0)
            """
        )
        var added = false
        for try await inserted in rows.decode(Bool.self) where inserted { added = true }
        return added
    }

    /// Keeps the `limit` most recently seen users of a device and forgets the others (`quota.known_users_per_device`).
    ///
    /// Runs after ``checkIn(_:id:agentVersion:heldVersion:users:at:)`` in its transaction, which holds the device
    /// row, so concurrent check-ins of one device cannot together keep more.
    /// - Returns: how many users were forgotten.
    package func forgetUsers(_ tenant: TenantID, of id: DeviceID, beyond limit: Int) async throws -> Int {
        let rows = try await tx.query(
            """
            DELETE FROM device_users
            WHERE tenant_id = \(tenant.rawValue) AND device_id = \(id.rawValue) AND identity IN (
                SELECT identity FROM device_users WHERE tenant_id = \(tenant.rawValue) AND device_id = \(id.rawValue)
                ORDER BY last_seen_at DESC, identity OFFSET \(Int64(limit)))
            RETURNING 1
            """
        )
        var forgotten = 0
        for try await _ in rows { forgotten += 1 }
        return forgotten
    }

    /// The users seen on a device since `since`, most recent first, at most `limit`.
    package func users(_ tenant: TenantID, of id: DeviceID, since: Date, limit: Int) async throws -> [DeviceUser] {
        let rows = try await tx.query(
            """
            SELECT sid, guid, upn FROM device_users
            WHERE tenant_id = \(tenant.rawValue) AND device_id = \(id.rawValue) AND last_seen_at >= \(since)
            ORDER BY last_seen_at DESC, identity LIMIT \(limit)
            """
        )
        var users: [DeviceUser] = []
        for try await (sid, guid, upn) in rows.decode((String?, UUID?, String?).self) {
            users.append(DeviceUser(sid: sid, guid: guid.map(ObjectGUID.init), upn: upn))
        }
        return users
    }

    /// For each of `ids`, the users seen on it since `since`, most recent first, at most `limit` (as
    /// ``users(_:of:since:limit:)``, for many devices in one statement). Devices without users are left out.
    package func users(
        _ tenant: TenantID, of ids: [DeviceID], since: Date, limit: Int
    ) async throws -> [DeviceID: [DeviceUser]] {
        guard !ids.isEmpty else { return [:] }
        let rows = try await tx.query(
            """
            SELECT device_id, sid, guid, upn FROM (
                SELECT device_id, sid, guid, upn, last_seen_at, identity,
                       row_number() OVER (PARTITION BY device_id ORDER BY last_seen_at DESC, identity) AS rank
                FROM device_users
                WHERE tenant_id = \(tenant.rawValue) AND device_id = ANY(\(ids.map(\.rawValue))::uuid[])
                  AND last_seen_at >= \(since)
            ) seen
            WHERE rank <= \(limit)
            ORDER BY device_id, rank
            """
        )
        var users: [DeviceID: [DeviceUser]] = [:]
        for try await (device, sid, guid, upn) in rows.decode((UUID, String?, UUID?, String?).self) {
            users[DeviceID(device), default: []].append(DeviceUser(sid: sid, guid: guid.map(ObjectGUID.init), upn: upn))
        }
        return users
    }

    /// Records the response to an offline-PIN challenge.
    ///
    /// - Returns: `false` when a response for this challenge was already issued.
    package func recordPIN(
        _ tenant: TenantID, id: DeviceID, challenge: String, by principal: UUID?, at now: Date
    ) async throws -> Bool {
        let rows = try await tx.query(
            """
            INSERT INTO pin_issuances (tenant_id, device_id, challenge, issued_at, issued_by)
            VALUES (\(tenant.rawValue), \(id.rawValue), \(challenge), \(now), \(principal))
            ON CONFLICT DO NOTHING RETURNING challenge
            """
        )
        for try await _ in rows { return true }
        return false
    }

    /// Records endpoint audit event ids.
    ///
    /// - Returns: The ids not seen before (the ones to log).
    package func acceptEvents(_ tenant: TenantID, device: DeviceID, ids: [UUID], at now: Date) async throws -> Set<UUID> {
        let rows = try await tx.query(
            """
            INSERT INTO endpoint_events (tenant_id, id, device_id, received_at)
            SELECT \(tenant.rawValue), e, \(device.rawValue), \(now) FROM unnest(\(ids)::uuid[]) AS e
            ON CONFLICT DO NOTHING RETURNING id
            """
        )
        var accepted: Set<UUID> = []
        for try await id in rows.decode(UUID.self) { accepted.insert(id) }
        return accepted
    }
}
