import CharterCore
import CharterJSON
import CharterServices
import CharterStore
import Foundation
import OpenAPIRuntime

extension Components.Schemas.Baseline {
    /// The stored baseline through the schema, from Core's document (every field written out), so an answer
    /// cannot drift from the document's description of it.
    init(_ stored: StoredBaseline) throws {
        var members: [String: JSONValue] = [:]
        if case .object(let document) = stored.baseline.json { members = document }
        members["id"] = .string(stored.baseline.id.description)
        members["version"] = .integer(stored.version)
        // JSONDecoder's default date strategy reads seconds since the reference date, exactly.
        members["created_at"] = .number(stored.createdAt.timeIntervalSinceReferenceDate)
        members["updated_at"] = .number(stored.updatedAt.timeIntervalSinceReferenceDate)
        self = try JSONDecoder().decode(Self.self, from: JSONValue.object(members).canonicalData)
    }
}

extension Components.Schemas.TenantBaselines {
    init(_ list: [StoredBaseline]) throws {
        self.init(ids: list.map(\.baseline.id.description), items: try list.map(Components.Schemas.Baseline.init))
    }
}

extension Components.Schemas.UnresolvedScope {
    init(_ scope: PolicyComposition.UnresolvedScope) {
        self.init(
            baselineId: scope.baseline.id.description, baselineName: scope.baseline.name,
            subsettingIndex: scope.index, subsettingName: scope.name, groups: scope.groups,
            ous: scope.organizationalUnits, matchesNobody: scope.matchesNobody
        )
    }
}

extension Components.Schemas.BaselineDrift {
    init(_ composition: PolicyComposition) throws {
        self.init(
            overrides: try composition.overrides.map { override in
                Components.Schemas.BaselineOverride(
                    section: override.section.rawValue,
                    tenantValue: try PolicyDocuments.object(override.tenantValue),
                    baselineId: override.baseline.id.description, baselineName: override.baseline.name,
                    baselineValue: try PolicyDocuments.object(override.baselineValue), equal: override.isEqual
                )
            },
            unresolvedScopes: composition.unresolved.map(Components.Schemas.UnresolvedScope.init)
        )
    }
}

extension Components.Schemas.EffectivePolicySection {
    init(_ section: Settings.Section, _ source: SectionSource) {
        switch source {
        case .defaults:
            self.init(section: section.rawValue, kind: .defaults)
        case .tenant:
            self.init(section: section.rawValue, kind: .tenant)
        case .baseline(let baseline):
            self.init(
                section: section.rawValue, kind: .baseline, baselineId: baseline.id.description,
                baselineName: baseline.name
            )
        case .combined(let includesTenant, let baselines):
            self.init(
                section: section.rawValue, kind: .combined, includesTenant: includesTenant,
                baselines: baselines.map { .init(id: $0.id.description, name: $0.name) }
            )
        case .subsetting(let id, let name, let baseline):
            self.init(
                section: section.rawValue, kind: .subsetting, subsettingId: id.description, subsettingName: name,
                baselineId: baseline?.id.description, baselineName: baseline?.name
            )
        }
    }
}
