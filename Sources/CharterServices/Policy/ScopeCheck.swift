import CharterCore
import CharterJSON
import CharterStore

/// Checks that a subsetting's scope names groups and OUs that exist in the tenant's synced directory.
///
/// Scopes reference objectGUIDs so that renames and moves don't break them; a GUID the directory does not
/// know is a typo or an object of another tenant, and would silently never match.
enum ScopeCheck {
    /// - Parameters:
    ///   - scope: The decoded scope.
    ///   - document: The subsetting document it was decoded from; pointers index its `scope` arrays.
    /// - Throws: ``PolicyError/unknownScopeObjects(_:)`` (422) whose `field` is the pointer of the first unknown
    ///   or wrong-kind entry (e.g. `/scope/groups/0`) and whose `errors` lists them all.
    static func requireKnown(
        _ scope: Subsetting.Scope,
        document: JSONValue,
        tenant: TenantID,
        tx: Transaction
    ) async throws {
        let kinds = try await tx.policyFacts.kinds(of: scope.groups.union(scope.organizationalUnits), in: tenant)
        guard case .object(let members) = document, case .object(let scopeMembers)? = members["scope"] else { return }
        var issues: [Refusal.Issue] = []
        for (key, expected, noun) in [
            ("groups", DirectoryObjectKind.group, "group"), ("ous", .organizationalUnit, "OU"),
        ] {
            guard case .array(let items)? = scopeMembers[key] else { continue }
            for (index, item) in items.enumerated() {
                guard case .string(let text) = item, let guid = ObjectGUID(text), kinds[guid] != expected else {
                    continue
                }
                let detail =
                    if let kind = kinds[guid] {
                        "\(guid) is a \(kind.rawValue) of the tenant's directory, not a \(noun)"
                    } else {
                        "the tenant's directory has no \(noun) \(guid)"
                    }
                issues.append(Refusal.Issue(pointer: "/scope/\(key)/\(index)", detail: detail))
            }
        }
        guard !issues.isEmpty else { return }
        throw PolicyError.unknownScopeObjects(issues)
    }
}
