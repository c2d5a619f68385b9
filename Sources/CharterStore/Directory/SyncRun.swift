package import CharterCore
package import Foundation

/// One directory sync run as recorded in the history.
package struct SyncRun: Sendable, Hashable {
    package enum Kind: String, Sendable, Hashable, CaseIterable {
        case full
        case incremental
    }

    package enum Status: String, Sendable, Hashable, CaseIterable {
        case running
        case succeeded
        case failed
        /// The run would have deleted more than the connection's threshold; nothing was changed.
        case needsConfirmation = "needs_confirmation"
    }

    /// What started the run.
    package enum Trigger: String, Sendable, Hashable, CaseIterable {
        case schedule
        case api
        case cli
    }

    package var id: SyncRunID
    package var connectionID: DirectoryConnectionID
    package var kind: Kind
    package var status: Status
    package var trigger: Trigger
    package var confirmsDeletions: Bool
    /// The `dsServiceName` of the DC that answered.
    package var domainController: String?
    package var startedAt: Date
    package var finishedAt: Date?
    package var objectsRead: Int
    package var counts: SyncCounts
    /// Deletions a `needs_confirmation` run held back.
    package var pendingDeletions: Int?
    package var error: String?

    package init(
        id: SyncRunID, connectionID: DirectoryConnectionID, kind: Kind, status: Status, trigger: Trigger,
        confirmsDeletions: Bool, domainController: String? = nil, startedAt: Date, finishedAt: Date? = nil,
        objectsRead: Int = 0, counts: SyncCounts = SyncCounts(), pendingDeletions: Int? = nil, error: String? = nil
    ) {
        self.id = id
        self.connectionID = connectionID
        self.kind = kind
        self.status = status
        self.trigger = trigger
        self.confirmsDeletions = confirmsDeletions
        self.domainController = domainController
        self.startedAt = startedAt
        self.finishedAt = finishedAt
        self.objectsRead = objectsRead
        self.counts = counts
        self.pendingDeletions = pendingDeletions
        self.error = error
    }
}

/// Objects added, changed, moved and deleted by a run, per kind of object.
package struct SyncCounts: Sendable, Hashable, Codable {
    /// The four counts of one kind of object.
    package struct Tally: Sendable, Hashable, Codable {
        package var added = 0
        package var changed = 0
        package var moved = 0
        package var deleted = 0

        package init(added: Int = 0, changed: Int = 0, moved: Int = 0, deleted: Int = 0) {
            self.added = added
            self.changed = changed
            self.moved = moved
            self.deleted = deleted
        }
    }

    /// Keyed by ``DirectoryObjectKind`` raw value.
    package var byKind: [String: Tally]

    package init(byKind: [String: Tally] = [:]) {
        self.byKind = byKind
    }

    package var totalDeleted: Int { byKind.values.reduce(0) { $0 + $1.deleted } }

    /// Whether the run stored any difference at all.
    package var hasChanges: Bool {
        byKind.values.contains { $0.added + $0.changed + $0.moved + $0.deleted > 0 }
    }
}
