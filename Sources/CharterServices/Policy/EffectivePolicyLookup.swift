import CharterCore
import CharterStore

/// Explains the effective policy of a user, a computer or both from what the tenant has stored: its
/// settings, its subsettings, its assigned baselines and the membership facts of its synced directory.
enum EffectivePolicyLookup {
    /// Without either object, the policy of an unknown user on an unknown computer: the global settings.
    ///
    /// - Throws: ``PolicyError/notInDirectory(field:_:)`` (404, naming the parameter) when `user` is not a user
    ///   of the tenant's directory, or `computer` not a computer.
    static func explain(
        user: ObjectGUID?,
        computer: ObjectGUID?,
        of tenant: TenantID,
        in tx: Transaction
    ) async throws -> ComposedExplanation {
        let objects = [user, computer].compactMap { $0 }
        let kinds = try await tx.policyFacts.kinds(of: objects, in: tenant)
        for (guid, kind, field) in [(user, DirectoryObjectKind.user, "user"), (computer, .computer, "computer")] {
            if let guid, kinds[guid] != kind {
                throw PolicyError.notInDirectory(field: field, guid)
            }
        }
        let composition = try await ComposedPolicy.load(of: tenant, in: tx)
        let facts = try await tx.policyFacts.facts(about: objects, in: tenant)
        return composition.explain(for: user, on: computer, in: facts)
    }
}
