import CharterCore
import CharterJSON
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

extension StoredSettings {
    /// What the audit log keeps of the settings: the version and the whole document.
    var auditSnapshot: String {
        let document = JSONValue.object(["version": .integer(Int64(version)), "document": settings.json])
        return String(decoding: document.canonicalData, as: UTF8.self)
    }
}

extension StoredSubsetting {
    /// What the audit log keeps of a subsetting: id, priority, version and the whole document.
    var auditSnapshot: String {
        let document = JSONValue.object([
            "id": .string(subsetting.id.description),
            "priority": .integer(Int64(priority)),
            "version": .integer(Int64(version)),
            "document": subsetting.json,
        ])
        return String(decoding: document.canonicalData, as: UTF8.self)
    }

    /// What the audit log keeps of a reorder: the ids in order.
    static func orderSnapshot(_ list: [StoredSubsetting]) -> String {
        let document = JSONValue.object(["order": .array(list.map { .string($0.subsetting.id.description) })])
        return String(decoding: document.canonicalData, as: UTF8.self)
    }
}

extension Components.Schemas.EffectivePolicy {
    init(_ explanation: PolicyExplanation, user: ObjectGUID?, computer: ObjectGUID?) throws {
        let source: Components.Schemas.EffectivePolicySource =
            switch explanation.policy.source {
            case .global: .init(kind: .global)
            case .subsetting(let id, let name): .init(kind: .subsetting, subsettingId: id.description, name: name)
            }
        self.init(
            user: user?.description,
            computer: computer?.description,
            settings: try PolicyDocuments.settingsDocument(explanation.policy.settings),
            source: source,
            explanation: .init(
                winner: explanation.winner.map(Components.Schemas.EffectivePolicyMatch.init),
                outranked: explanation.outranked.map(Components.Schemas.EffectivePolicyMatch.init),
                disabled: explanation.disabled.map(Components.Schemas.EffectivePolicyMatch.init),
                overriddenSections: explanation.overriddenSections.map(\.rawValue),
                inheritedSections: explanation.inheritedSections.map(\.rawValue)
            )
        )
    }
}

extension Components.Schemas.EffectivePolicyMatch {
    init(_ match: PolicyExplanation.Match) {
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
            path: path
        )
    }
}
