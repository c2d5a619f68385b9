import CharterJSON
package import CharterCore
package import CharterStore
package import Foundation
package import Logging

/// What an enrolled device does: fetch its bundle, check in, upload its audit events, keep its event stream.
extension EndpointService {
    /// The device's current bundle, made or refreshed if needed (``BundleService/current(for:of:in:now:)``).
    ///
    /// - Throws: `StoreError.notFound` for a device revoked since its token was read.
    package func currentBundle(for caller: AuthenticatedDevice, logger: Logger) async throws -> StoredBundle {
        let bundles = try requireKeys().bundles
        let now = now()
        return try await database.withTenant(caller.binding, logger: logger) { tx in
            let current = try await bundles.current(for: [caller.device], of: caller.tenant, in: tx, now: now)
            guard let bundle = current[caller.device] else { throw StoreError.notFound }
            return bundle
        }
    }

    /// The current bundles of the tenant's devices among `devices`, made or refreshed a batch at a time (the
    /// bundles an event stream pushes after a `bundle` hint); revoked and unknown devices are left out.
    package func currentBundles(
        of devices: [DeviceID], in binding: TenantBinding, logger: Logger
    ) async throws -> [DeviceID: StoredBundle] {
        let bundles = try requireKeys().bundles
        let now = now()
        return try await database.withTenant(binding, logger: logger) { tx in
            try await bundles.current(for: devices, of: binding.tenant, in: tx, now: now)
        }
    }

    /// Records a check-in; when it reports a user the device did not know, users beyond the quota are forgotten
    /// and the device is hinted to fetch its bundle.
    ///
    /// - Returns: The version of the device's current bundle, `nil` before the first.
    package func checkIn(
        _ caller: AuthenticatedDevice, agentVersion: String, heldVersion: Int64?, users: [DeviceUser], logger: Logger
    ) async throws -> Int64? {
        let now = now()
        return try await database.withTenant(caller.binding, logger: logger) { tx in
            let added = try await tx.devices.checkIn(
                caller.tenant, id: caller.device, agentVersion: agentVersion, heldVersion: heldVersion, users: users,
                at: now
            )
            if added {
                let forgotten = try await tx.devices.forgetUsers(
                    caller.tenant, of: caller.device, beyond: limits.knownUsersPerDevice
                )
                if forgotten > 0 {
                    logger.notice(
                        "device users forgotten beyond quota",
                        metadata: ["device.id": "\(caller.device)", "device.users_forgotten": "\(forgotten)"]
                    )
                }
                try await tx.changeFeed.append(
                    caller.tenant, event: .bundle, devices: [caller.device], data: #"{"reason":"device"}"#
                )
            }
            return try await tx.devices.get(caller.tenant, id: caller.device).bundleVersion
        }
    }

    /// One endpoint audit event as the audit log keeps it.
    package struct EndpointEvent: Sendable {
        /// The agent's id of the event, which makes retries harmless.
        package var id: UUID
        /// `endpoint.` and the event's type.
        package var action: String
        /// The event's canonical snapshot.
        package var after: String

        package init(id: UUID, action: String, after: String) {
            self.id = id
            self.action = action
            self.after = after
        }
    }

    /// Appends the events the device had not uploaded before to the tenant's audit log, as done by the device.
    ///
    /// - Returns: How many were new.
    package func recordEvents(_ events: [EndpointEvent], from caller: AuthenticatedDevice, origin: Origin) async throws -> Int {
        let now = now()
        return try await database.withTenant(caller.binding, logger: origin.logger) { tx in
            let device = try await tx.devices.get(caller.tenant, id: caller.device)
            let fresh = try await tx.devices.acceptEvents(caller.tenant, device: caller.device, ids: events.map(\.id), at: now)
            let actor = Caller(
                principal: nil,
                actor: AuditRecord.Actor(
                    id: caller.device.rawValue, name: "device \(device.hostname)", requestID: origin.requestID,
                    clientIP: origin.clientIP
                ),
                logger: origin.logger
            )
            for event in events where fresh.contains(event.id) {
                try await tx.audit.record(
                    event.action, on: ("device", caller.device.description), after: event.after, by: actor, at: now,
                    in: .tenant(caller.tenant)
                )
                if event.action == "endpoint." + AlertEvent.bundleRejected {
                    // The agent's report as sent (its `details` carry the failure code), and which device sent it.
                    let report = (try? JSONDecoder().decode(JSONValue.self, from: Data(event.after.utf8))) ?? .object([:])
                    let snapshot = AuditJSON.encode([
                        "device_id": caller.device.description, "hostname": device.hostname,
                        "event_id": event.id.uuidString.lowercased(), "report": report,
                    ])
                    try await AlertEvent.enqueue(
                        AlertEvent.bundleRejected, in: caller.tenant, subject: "rejection", snapshot: snapshot, at: now,
                        emails: emailsAlerts, tx: tx
                    )
                }
            }
            return fresh.count
        }
    }

    /// Records `device.stream_replaced`: the device's event stream from `origin` replaced streams from the
    /// `replaced` addresses (a copied credential shows this way).
    package func recordReplacedStream(_ caller: AuthenticatedDevice, replaced: [String?], origin: Origin) async throws {
        let now = now()
        let actor = Caller(
            principal: nil,
            actor: AuditRecord.Actor(
                id: caller.device.rawValue, name: "device", requestID: origin.requestID, clientIP: origin.clientIP
            ),
            logger: origin.logger
        )
        try await database.withTenant(caller.binding, logger: origin.logger) { tx in
            try await tx.audit.record(
                "device.stream_replaced", on: ("device", caller.device.description),
                after: AuditJSON.encode([
                    "replaced_client_ips": replaced.map { $0 ?? "" }, "client_ip": origin.clientIP ?? "",
                ]),
                by: actor, at: now, in: .tenant(caller.tenant)
            )
        }
    }

    /// The device's change-feed entries after `sequence` (at most `limit`), and the sequence the tenant's feed
    /// is pruned through.
    package func missedEntries(
        of caller: AuthenticatedDevice, after sequence: Int64, limit: Int, logger: Logger
    ) async throws -> (entries: [ChangeFeedEntry], prunedThrough: Int64) {
        try await database.withTenant(caller.binding, logger: logger) { tx in
            (
                try await tx.changeFeed.entries(
                    of: caller.tenant, for: caller.device, after: sequence, through: .max, limit: limit
                ),
                try await tx.changeFeed.prunedThrough(of: caller.tenant)
            )
        }
    }
}
