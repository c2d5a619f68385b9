package import CharterAgentWire
package import CharterCore
package import CharterStore
package import Foundation

/// The decisions of a connector run, apart from its I/O: which connector reads, whether the engine waits,
/// hands the run over or ends, and the texts a failed run records.
///
/// ``DirectorySyncEngine`` asks these and does what they say; they are functions of values, tested as tables.
package enum ConnectorRunDecision {
    /// What the engine does after one look at a waiting upload.
    package enum Step: Sendable, Hashable {
        /// Nothing to do yet.
        case wait
        /// The lease moved: drop the pages received and assign the run to this connector.
        case reassign(to: ConnectorID)
        /// Every page is held: load and merge them.
        case load
        /// The connector reported an error: fail the run with this text.
        case fail(String)
        /// No connector of the connection has held the lease for the grace: fail the run as offline.
        case offline
    }

    /// The connector a new run goes to: the lease holder, when it is one of the connection's connectors.
    package static func assignee(lease: ConnectorID?, serving: [ConnectorID]) -> ConnectorID? {
        guard let lease, serving.contains(lease) else { return nil }
        return lease
    }

    /// The next step of the wait, from the upload's progress, the connection's connectors and how long no
    /// connector of the connection has held the lease (zero while one does).
    ///
    /// A run is handed over only to another connector of the connection that holds an unexpired lease; while no
    /// one does (the lease ran out and no heartbeat took it over yet), the run waits for its connector up to
    /// `grace` and then fails as offline, as a run that starts with no connector online does.
    package static func next(
        _ progress: ConnectorUploadProgress, serving: [ConnectorID], unheldFor: Duration, grace: Duration
    ) -> Step {
        switch progress.state {
        case .complete: return .load
        case .failed: return .fail(failureMessage(connector: progress.connectorName, error: progress.error ?? ""))
        case .waiting:
            guard let active = assignee(lease: progress.activeConnectorID, serving: serving) else {
                return unheldFor >= grace ? .offline : .wait
            }
            return active == progress.connectorID ? .wait : .reassign(to: active)
        }
    }

    /// The text of a run whose connector reported an error at the site.
    package static func failureMessage(connector name: String, error: String) -> String {
        "connector \"\(name)\": \(error)"
    }

    /// The text of a run that found none of its connectors online, saying since when each was silent.
    package static func offlineMessage(_ connectors: [ConnectorPresence]) -> String {
        let seen = connectors.map { connector in
            if let lastSeen = connector.lastSeenAt {
                "\"\(connector.name)\" last seen \(lastSeen.formatted(.iso8601))"
            } else {
                "\"\(connector.name)\" never seen"
            }
        }
        let list = seen.isEmpty ? "the connection names no connector" : seen.joined(separator: ", ")
        return "no connector online: " + list
    }

    /// Why a completed upload cannot be merged, or `nil` when it can.
    ///
    /// The connector must read what was asked: `incremental` only when asked for it, and then continuing the
    /// stored watermark (the same DC and `invocationId`, a USN not below it); a full read lists no tombstones.
    package static func refusal(
        of completion: ConnectorRunCompletion, requested: SyncRun.Kind, watermark: StoredWatermark?,
        hasDeletions: Bool
    ) -> String? {
        switch completion.kind {
        case .full:
            return hasDeletions ? "the connector's full read lists deletions, which only an incremental read has" : nil
        case .incremental:
            let dc = completion.domainController
            guard requested == .incremental, let watermark, dc.serviceName == watermark.serviceName,
                dc.invocationID == watermark.invocationID, dc.highestCommittedUSN >= watermark.usn
            else { return "the connector's incremental read does not continue the stored watermark" }
            return nil
        }
    }
}
