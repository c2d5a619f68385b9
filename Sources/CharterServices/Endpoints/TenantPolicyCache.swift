package import CharterBundle
package import CharterCore
package import CharterStore
import Synchronization

/// Each tenant's policy as bundles need it (its assigned baselines folded in, ``ComposedPolicy``), kept while
/// the policy stays the same: the resolver, and every effective policy's settings document encoded once. A
/// change wave re-issues thousands of bundles from one policy; without this each would read and decode the
/// documents, build the resolver and encode the same few documents again.
///
/// An entry is used only while the tenant's ``PolicyStamp`` (read in the bundle's own transaction) is the
/// one it was built for, so a replica never issues from a policy another replica has replaced.
package final class TenantPolicyCache: Sendable {
    /// One tenant's resolver and the documents encoded so far, by the settings that won.
    package final class Entry: Sendable {
        package let stamp: PolicyStamp
        package let resolver: PolicyResolver
        private let documents = Mutex<[EffectivePolicy.Source: BundlePolicy.EncodedDocument]>([:])

        init(stamp: PolicyStamp, resolver: PolicyResolver) {
            self.stamp = stamp
            self.resolver = resolver
        }

        /// The document of `policy`, encoded on first use.
        package func document(for policy: EffectivePolicy) throws -> BundlePolicy.EncodedDocument {
            if let document = documents.withLock({ $0[policy.source] }) { return document }
            let document = BundlePolicy.EncodedDocument(policy.settings.bundleFormat1.json)
            documents.withLock { $0[policy.source] = document }
            return document
        }
    }

    /// Tenants kept at most; past it the cache starts over (an entry is rebuilt from one read).
    package static let capacity = 4096

    private let entries = Mutex<[TenantID: Entry]>([:])

    /// The tenant's current policy, from the cache when its stamp still holds.
    package func current(of tenant: TenantID, in tx: Transaction) async throws -> Entry {
        let stamp = try await tx.subsettings.stamp(tenant)
        if let entry = entries.withLock({ $0[tenant] }), entry.stamp == stamp { return entry }
        // The stamp of what is read next, which a write committed since the query above may have moved on. The
        // directory change stays the one read above: a sync committed meanwhile only makes the entry look older.
        let settings = try await tx.settings.get(tenant)
        let subsettings = try await tx.subsettings.list(tenant)
        let baselines = try await tx.baselines.assigned(to: tenant)
        let composition = try await ComposedPolicy.compose(
            settings: settings, subsettings: subsettings.map(\.subsetting), baselines: baselines.map(\.baseline),
            of: tenant, in: tx
        )
        let entry = Entry(
            stamp: PolicyStamp(
                settingsVersion: settings.version, subsettings: subsettings.map(\.subsetting.id),
                subsettingVersions: subsettings.map(\.version), baselines: baselines.map(\.baseline.id),
                baselineVersions: baselines.map(\.version), directoryChange: stamp.directoryChange
            ),
            resolver: composition.resolver
        )
        entries.withLock { entries in
            if entries.count >= Self.capacity { entries.removeAll(keepingCapacity: true) }
            entries[tenant] = entry
        }
        return entry
    }
}
