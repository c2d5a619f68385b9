import CharterCore
import CharterJSON
import CharterServices
import CharterStore
import Foundation
import OpenAPIRuntime

extension Components.Schemas.Subsetting {
    init(_ stored: StoredSubsetting) throws {
        let subsetting = stored.subsetting
        self.init(
            id: subsetting.id.description,
            priority: stored.priority,
            version: stored.version,
            createdAt: stored.createdAt,
            updatedAt: stored.updatedAt,
            schemaVersion: Settings.schemaVersion,
            name: subsetting.name,
            description: subsetting.description,
            enabled: subsetting.isEnabled,
            target: subsetting.target == .user ? .user : .computer,
            scope: .init(
                groups: subsetting.scope.groups.sorted().map(\.description),
                ous: subsetting.scope.organizationalUnits.sorted().map(\.description)
            ),
            overrides: try PolicyDocuments.object(subsetting.overrides.json)
        )
    }
}

extension Components.Schemas.EffectivePolicy {
    init(_ composed: ComposedExplanation, user: ObjectGUID?, computer: ObjectGUID?) throws {
        let explanation = composed.explanation
        let source: Components.Schemas.EffectivePolicySource =
            switch explanation.policy.source {
            case .global: .init(kind: .global)
            case .subsetting(let id, let name):
                .init(
                    kind: .subsetting, subsettingId: id.description, name: name,
                    baselineId: composed.origins[id]?.id.description, baselineName: composed.origins[id]?.name
                )
            }
        func match(_ match: PolicyExplanation.Match) -> Components.Schemas.EffectivePolicyMatch {
            Components.Schemas.EffectivePolicyMatch(match, baseline: composed.origins[match.subsettingID])
        }
        self.init(
            user: user?.description,
            computer: computer?.description,
            settings: try PolicyDocuments.settingsDocument(explanation.policy.settings),
            source: source,
            explanation: .init(
                winner: explanation.winner.map(match),
                outranked: explanation.outranked.map(match),
                disabled: explanation.disabled.map(match),
                overriddenSections: explanation.overriddenSections.map(\.rawValue),
                inheritedSections: explanation.inheritedSections.map(\.rawValue),
                sections: composed.sections.map { Components.Schemas.EffectivePolicySection($0.0, $0.1) },
                unresolvedScopes: composed.unresolved.map(Components.Schemas.UnresolvedScope.init)
            )
        )
    }
}

extension Components.Schemas.EffectivePolicyMatch {
    /// - Parameter baseline: The baseline the matched subsetting comes from; `nil` for the tenant's own.
    init(_ match: PolicyExplanation.Match, baseline: BaselineReference?) {
        let path: Components.Schemas.EffectivePolicyMatchPath =
            switch match.path {
            case .group(let object, let chain):
                .init(kind: .group, object: object.description, chain: chain.map(\.description))
            case .organizationalUnit(let object, let ou, let depth):
                .init(kind: .ou, object: object.description, ou: ou.description, depth: depth)
            }
        self.init(
            subsettingId: match.subsettingID.description,
            name: match.name,
            priority: match.priority,
            target: match.target == .user ? .user : .computer,
            enabled: match.isEnabled,
            path: path,
            baselineId: baseline?.id.description,
            baselineName: baseline?.name
        )
    }
}

extension PolicyDocuments {
    /// A settings document as the generated type: Core's canonical encoding (every field written out) read
    /// back through the schema, so an answer cannot drift from the document's description of it.
    static func settingsDocument(_ settings: Settings) throws -> Components.Schemas.SettingsDocument {
        try JSONDecoder().decode(Components.Schemas.SettingsDocument.self, from: settings.json.canonicalData)
    }

    /// A JSON object of Core's document tree as the generated types' free-form object.
    static func object(_ value: JSONValue) throws -> OpenAPIObjectContainer {
        guard case .object(let members) = value else { return OpenAPIObjectContainer() }
        return try OpenAPIObjectContainer(unvalidatedValue: members.mapValues(plain))
    }

    private static func plain(_ value: JSONValue) -> (any Sendable)? {
        switch value {
        case .null: nil
        case .bool(let bool): bool
        case .integer(let integer): Int(integer)
        case .number(let number): number
        case .string(let string): string
        case .array(let values): values.map(plain)
        case .object(let members): members.mapValues(plain)
        }
    }
}
