package import CharterCore
package import Foundation

/// A tenant's global settings as stored, with the version the admin API's `ETag` carries.
package struct StoredSettings: Hashable, Sendable {
    package var settings: Settings
    /// 0 for a tenant that never saved settings (it has the defaults); incremented on every replacement.
    package var version: Int64
    /// When and by whom the settings were last replaced; `nil` for the defaults.
    package var updatedAt: Date?
    package var updatedBy: String?
    /// The sections the tenant's own document contained, where it wins over its baselines (docs/baselines.md);
    /// empty for the defaults.
    package var sections: Set<Settings.Section>

    package init(
        settings: Settings, version: Int64, updatedAt: Date?, updatedBy: String?,
        sections: Set<Settings.Section> = Set(Settings.Section.allCases)
    ) {
        self.settings = settings
        self.version = version
        self.updatedAt = updatedAt
        self.updatedBy = updatedBy
        self.sections = sections
    }

    /// What a tenant that never saved settings has: the restrictive defaults at version 0, setting no section.
    package static let defaults = StoredSettings(
        settings: Settings(), version: 0, updatedAt: nil, updatedBy: nil, sections: []
    )
}

/// A subsetting as stored: the subsetting, its place in the tenant's list and its version.
package struct StoredSubsetting: Hashable, Sendable {
    package var subsetting: Subsetting
    /// Position in the tenant's list, 0 first: the lower, the higher the priority.
    package var priority: Int
    /// Incremented on every edit (not on reordering, which does not change the subsetting).
    package var version: Int64
    package var createdAt: Date
    package var updatedAt: Date

    package init(subsetting: Subsetting, priority: Int, version: Int64, createdAt: Date, updatedAt: Date) {
        self.subsetting = subsetting
        self.priority = priority
        self.version = version
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }
}

/// Why a policy write was refused, beyond the generic ``StoreError`` cases.
package enum PolicyStoreError: Error, Hashable, Sendable {
    /// A subsetting was to be inserted at a position past the end of the list.
    case positionOutOfRange(requested: Int, maximum: Int)
    /// A new order of the subsettings does not name every subsetting exactly once.
    case orderMismatch(SubsettingOrderMismatch)
    /// A stored document no longer decodes (edited outside the service): never the client's fault.
    case corruptDocument(table: String, id: String, issues: DocumentError)
}

/// The first problem found in a requested order of subsettings.
package enum SubsettingOrderMismatch: Hashable, Sendable {
    /// The id at `index` appears earlier in the list too.
    case duplicate(SubsettingID, index: Int)
    /// The id at `index` is not a subsetting of the tenant.
    case unknown(SubsettingID, index: Int)
    /// A subsetting of the tenant that the list leaves out.
    case missing(SubsettingID)

    /// Checks that `requested` names every id of `current` exactly once.
    ///
    /// - Returns: The first mismatch in list order (duplicates and unknown ids before missing ones), or `nil`.
    package static func first(requested: [SubsettingID], current: [SubsettingID]) -> SubsettingOrderMismatch? {
        let known = Set(current)
        var seen: Set<SubsettingID> = []
        for (index, id) in requested.enumerated() {
            guard known.contains(id) else { return .unknown(id, index: index) }
            guard seen.insert(id).inserted else { return .duplicate(id, index: index) }
        }
        return current.first { !seen.contains($0) }.map { .missing($0) }
    }
}
