package import CharterCore
package import Foundation

/// One edit of a list of pre-approved applications, whichever document owns the list: the global settings, a
/// subsetting's override or a baseline's library (docs/policy.md, "Pre-approved application routes").
///
/// The owner's service reads the list under a row lock, applies the edit, and stores, audits and hints as any
/// write of that document does.
package enum PreApprovedEdit: Sendable {
    /// Appends an entry: with a random id unless it names one no other entry has.
    case create(Settings.PreApprovedApplication)
    /// Replaces the entry with this id in its place, keeping the id.
    case replace(UUID, Settings.PreApprovedApplication)
    /// Removes the entry with this id.
    case delete(UUID)

    /// What an edit did: the entry to answer with (which has an id), and the entry before and after.
    package struct Outcome: Sendable {
        package var action: String
        package var entry: Settings.PreApprovedApplication
        package var before: Settings.PreApprovedApplication?
        package var after: Settings.PreApprovedApplication?
    }

    /// An append of the entry of `body`, validated as an entry of a settings document.
    ///
    /// - Throws: ``PolicyError/invalidDocument(_:of:)``.
    package static func create(from body: Data) throws(PolicyError) -> Self {
        .create(try PolicyDocuments.preApprovedEntry(from: body))
    }

    /// A replacement of entry `id` by the entry of `body`.
    ///
    /// - Throws: ``PolicyError/invalidDocument(_:of:)``, ``PolicyError/preApprovedIDMismatch`` for another id in
    ///   the body.
    package static func replace(_ id: UUID, from body: Data) throws(PolicyError) -> Self {
        let entry = try PolicyDocuments.preApprovedEntry(from: body)
        if let given = entry.id, given != id { throw .preApprovedIDMismatch }
        return .replace(id, entry)
    }

    /// Applies the edit to `list`.
    ///
    /// - Throws: ``PolicyError/preApprovedIDTaken(_:)``, ``PolicyError/preApprovedListFull``,
    ///   ``PolicyError/unknownPreApprovedEntry``.
    package func apply(to list: inout [Settings.PreApprovedApplication]) throws(PolicyError) -> Outcome {
        switch self {
        case .create(var entry):
            let id = entry.id ?? UUID()
            entry.id = id
            guard !list.contains(where: { $0.id == id }) else { throw .preApprovedIDTaken(id) }
            guard list.count < Settings.PreApprovedApplication.maximumCount else { throw .preApprovedListFull }
            list.append(entry)
            return Outcome(action: "pre_approved_application.created", entry: entry, before: nil, after: entry)
        case .replace(let id, var entry):
            entry.id = id
            guard let index = list.firstIndex(where: { $0.id == id }) else { throw .unknownPreApprovedEntry }
            let before = list[index]
            list[index] = entry
            return Outcome(action: "pre_approved_application.replaced", entry: entry, before: before, after: entry)
        case .delete(let id):
            guard let index = list.firstIndex(where: { $0.id == id }) else { throw .unknownPreApprovedEntry }
            let before = list.remove(at: index)
            return Outcome(action: "pre_approved_application.deleted", entry: before, before: before, after: nil)
        }
    }
}

/// A list of pre-approved applications as read: its entries, each with its id, the owning document's version
/// (the list's ETag), and whether the list is inherited (a subsetting without its own list answers the global
/// one it inherits).
package struct PreApprovedEntries: Sendable {
    package var entries: [Settings.PreApprovedApplication]
    package var version: Int64
    package var isInherited: Bool

    /// The entry with `id`, with the list's version.
    ///
    /// - Throws: ``PolicyError/unknownPreApprovedEntry``.
    package func entry(_ id: UUID) throws(PolicyError) -> PreApprovedEntry {
        guard let entry = entries.first(where: { $0.id == id }) else { throw .unknownPreApprovedEntry }
        return PreApprovedEntry(entry: entry, version: version)
    }
}

/// One pre-approved entry, with the owning document's version (the resource's ETag).
package struct PreApprovedEntry: Sendable {
    package var entry: Settings.PreApprovedApplication
    package var version: Int64
}
