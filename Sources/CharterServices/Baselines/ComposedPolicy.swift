package import CharterCore
package import CharterStore

/// Reads a tenant's policy with its assigned baselines folded in (Core's ``PolicyComposition``): what the
/// effective policy, bundles, request decisions and change detection all use.
package enum ComposedPolicy {
    /// The tenant's composed policy, read in `tx` (with the tenant selected).
    package static func load(of tenant: TenantID, in tx: Transaction) async throws -> PolicyComposition {
        try await compose(
            settings: try await tx.settings.get(tenant),
            subsettings: try await tx.subsettings.list(tenant).map(\.subsetting),
            baselines: try await tx.baselines.assigned(to: tenant).map(\.baseline),
            of: tenant, in: tx
        )
    }

    /// Composes what the caller has read; reads the directory only when a baseline has subsettings to resolve.
    package static func compose(
        settings: StoredSettings, subsettings: [Subsetting], baselines: [Baseline], of tenant: TenantID,
        in tx: Transaction
    ) async throws -> PolicyComposition {
        PolicyComposition(
            settings: settings.settings, setSections: settings.sections, subsettings: subsettings,
            baselines: baselines, directory: try await directory(for: baselines, of: tenant, in: tx)
        )
    }

    /// What the named scopes of `baselines` need of the tenant's directory; nothing is read when none has
    /// subsettings.
    package static func directory(
        for baselines: [Baseline], of tenant: TenantID, in tx: Transaction
    ) async throws -> ScopeDirectory {
        let scopes = baselines.flatMap { $0.subsettings.map(\.scope) }
        return scopes.isEmpty ? ScopeDirectory() : try await tx.policyFacts.scopeDirectory(for: scopes, in: tenant)
    }
}
