package import Foundation

/// One tenant as the MSP's morning view shows it: its devices, directory syncs, pending requests and audit chain,
/// and the reasons it needs attention (docs/operations-overview.md).
package struct TenantOverview: Hashable, Sendable {
    /// The tenant's enrolled devices (not revoked, not waiting for approval).
    package struct Devices: Hashable, Sendable {
        package var total: Int
        /// Checked in within the online window.
        package var online: Int
        /// Not seen for the `stale_after` the caller chose (or never).
        package var stale: Int
        /// Holding an older bundle than the one the service would give them now (or none).
        package var behind: Int

        package init(total: Int, online: Int, stale: Int, behind: Int) {
            self.total = total
            self.online = online
            self.stale = stale
            self.behind = behind
        }
    }

    /// The tenant's directory syncs: the enabled connections, and how their latest finished runs ended.
    package struct Directory: Hashable, Sendable {
        /// The most recent run of any connection.
        package struct Run: Hashable, Sendable {
            package var startedAt: Date
            package var finishedAt: Date?
            /// `running`, `succeeded`, `failed` or `needs_confirmation` (a sync run's status).
            package var status: String

            package init(startedAt: Date, finishedAt: Date?, status: String) {
                self.startedAt = startedAt
                self.finishedAt = finishedAt
                self.status = status
            }
        }

        package var connections: Int
        /// Enabled connections whose latest finished run failed.
        package var failed: Int
        /// Enabled connections whose latest finished run the deletion guard stopped (`needs_confirmation`).
        package var held: Int
        package var lastRun: Run?

        package init(connections: Int, failed: Int, held: Int, lastRun: Run?) {
            self.connections = connections
            self.failed = failed
            self.held = held
            self.lastRun = lastRun
        }
    }

    /// What the periodic verification knows of the tenant's audit hash chain.
    package struct AuditChain: Hashable, Sendable {
        package enum Status: String, Hashable, Sendable {
            /// Not verified yet.
            case unverified
            /// Every event through ``verifiedThrough`` links and matches its hash.
            case ok
            /// Verification found a link that does not hold, at ``brokenAt``.
            case broken
        }

        package var status: Status
        /// The sequence number of the last event verified.
        package var verifiedThrough: Int64
        /// When events were last verified.
        package var lastVerifiedAt: Date?
        /// When the chain was first found in its current status.
        package var since: Date?
        /// Where it broke, for a broken chain.
        package var brokenAt: Int64?

        package init(status: Status, verifiedThrough: Int64, lastVerifiedAt: Date?, since: Date?, brokenAt: Int64?) {
            self.status = status
            self.verifiedThrough = verifiedThrough
            self.lastVerifiedAt = lastVerifiedAt
            self.since = since
            self.brokenAt = brokenAt
        }

        /// A chain nobody has verified yet.
        package static let unverified = AuditChain(
            status: .unverified, verifiedThrough: 0, lastVerifiedAt: nil, since: nil, brokenAt: nil
        )
    }

    package var tenant: TenantID
    package var name: String
    package var devices: Devices
    package var directory: Directory
    package var pendingRequests: Int
    package var auditChain: AuditChain

    package init(
        tenant: TenantID, name: String, devices: Devices, directory: Directory, pendingRequests: Int,
        auditChain: AuditChain
    ) {
        self.tenant = tenant
        self.name = name
        self.devices = devices
        self.directory = directory
        self.pendingRequests = pendingRequests
        self.auditChain = auditChain
    }

    /// Why the tenant needs attention, most serious first; empty when it needs none.
    package var reasons: [AttentionReason] {
        AttentionReason.allCases.filter { reason in
            switch reason {
            case .auditChainBroken: auditChain.status == .broken
            case .syncHeld: directory.held > 0
            case .syncFailed: directory.failed > 0
            case .requestsPending: pendingRequests > 0
            case .devicesStale: devices.stale > 0
            case .devicesBehind: devices.behind > 0
            }
        }
    }
}

/// A reason a tenant needs attention. The cases are declared most serious first: that is the overview's
/// `attention` order.
package enum AttentionReason: String, CaseIterable, Hashable, Sendable {
    /// The audit log's hash chain does not verify: someone changed the log.
    case auditChainBroken = "audit_chain_broken"
    /// A directory sync waits for an administrator to confirm its deletions.
    case syncHeld = "sync_held"
    /// A directory connection's latest sync failed.
    case syncFailed = "sync_failed"
    /// Elevation requests wait for an approver.
    case requestsPending = "requests_pending"
    /// Devices have not been seen for the chosen time.
    case devicesStale = "devices_stale"
    /// Devices hold an older bundle than their current one.
    case devicesBehind = "devices_behind"
}
