package import CharterJSON
package import Foundation

package enum SubsettingTag {}
/// Identifies one subsetting within its tenant.
package typealias SubsettingID = Identifier<SubsettingTag>

/// A named override of the global settings for the users or computers in a scope.
///
/// A tenant's subsettings form one ordered list; an object's place in it (its priority) is not part of
/// the subsetting but of the list, so reordering never edits a subsetting. The first enabled subsetting
/// whose scope matches wins (see ``PolicyResolver``).
package struct Subsetting: Hashable, Sendable {
    /// Which object a subsetting's scope is tested against.
    package enum Target: String, Hashable, Sendable, CaseIterable {
        /// Tested against the user making the request.
        case user
        /// Tested against the computer the request comes from.
        case computer
    }

    /// The directory objects a subsetting applies to.
    ///
    /// An object is in scope when it is a transitive member of any listed group, or lies anywhere under
    /// any listed OU (directly in it or in any OU below it).
    package struct Scope: Hashable, Sendable {
        package var groups: Set<ObjectGUID>
        package var organizationalUnits: Set<ObjectGUID>

        package init(groups: Set<ObjectGUID> = [], organizationalUnits: Set<ObjectGUID> = []) {
            self.groups = groups
            self.organizationalUnits = organizationalUnits
        }
    }

    /// The longest name and description accepted.
    package static let maximumNameLength = 200
    package static let maximumDescriptionLength = 2000
    /// The most groups plus OUs one scope may list.
    package static let maximumScopeSize = 1000

    package var id: SubsettingID
    package var name: String
    package var description: String
    package var isEnabled: Bool
    package var target: Target
    package var scope: Scope
    package var overrides: SettingsOverrides

    package init(
        id: SubsettingID,
        name: String,
        description: String = "",
        isEnabled: Bool = true,
        target: Target,
        scope: Scope,
        overrides: SettingsOverrides
    ) {
        self.id = id
        self.name = name
        self.description = description
        self.isEnabled = isEnabled
        self.target = target
        self.scope = scope
        self.overrides = overrides
    }

    /// Decodes and validates a subsetting document strictly.
    ///
    /// The document is `{"schema_version": 1, "name", "description"?, "enabled"?, "target", "scope":
    /// {"groups"?: [guid], "ous"?: [guid]}, "overrides": {sections...}}`. The id is not part of the
    /// document: it names the resource and is given here; the priority is the position in the tenant's list.
    ///
    /// - Parameters:
    ///   - data: UTF-8 JSON text.
    ///   - id: The subsetting's id.
    /// - Throws: ``DocumentError`` listing every problem; pointers are relative to the subsetting document,
    ///   so an override problem reads `/overrides/run_as_admin/mode`.
    package static func decode(from data: Data, id: SubsettingID) throws(DocumentError) -> Subsetting {
        let value = try JSONValue.parseDocument(data)
        var reader = DocumentReader()
        let subsetting = read(value, id: id, reader: &reader)
        if let subsetting, reader.issues.isEmpty {
            return subsetting
        }
        throw DocumentError(issues: reader.issues)
    }

    private static func read(_ value: JSONValue, id: SubsettingID, reader: inout DocumentReader) -> Subsetting? {
        let root = JSONPointer()
        let required = ["schema_version", "name", "target", "scope", "overrides"]
        guard
            let members = reader.object(
                value,
                at: root,
                allowed: required + ["description", "enabled"],
                required: required
            )
        else { return nil }
        if let version = members["schema_version"],
            let number = reader.integer(version, at: "/schema_version", in: 0...Int.max),
            number != Settings.schemaVersion
        {
            reader.report("/schema_version", "unsupported schema version \(number); expected \(Settings.schemaVersion)")
        }
        let name = members["name"].flatMap { reader.nonEmptyString($0, at: "/name", maxLength: maximumNameLength) }
        let description =
            members["description"].map { reader.string($0, at: "/description", maxLength: maximumDescriptionLength) }
            ?? ""
        let isEnabled = members["enabled"].map { reader.bool($0, at: "/enabled") } ?? true
        let target = members["target"].flatMap { reader.enumeration($0, at: "/target", as: Target.self) }
        let scope = members["scope"].flatMap { readScope($0, reader: &reader) }
        let overrides = members["overrides"].flatMap {
            SettingsOverrides.read($0, at: "/overrides", reader: &reader)
        }
        guard let name, let description, let isEnabled, let target, let scope, let overrides else { return nil }
        return Subsetting(
            id: id,
            name: name,
            description: description,
            isEnabled: isEnabled,
            target: target,
            scope: scope,
            overrides: overrides
        )
    }

    private static func readScope(_ value: JSONValue, reader: inout DocumentReader) -> Scope? {
        let pointer: JSONPointer = "/scope"
        let before = reader.issues.count
        guard let members = reader.object(value, at: pointer, allowed: ["groups", "ous"]) else { return nil }
        func guids(_ key: String, reader: inout DocumentReader) -> [ObjectGUID] {
            guard let value = members[key] else { return [] }
            return reader.uniqueArray(
                value,
                at: pointer.appending(key),
                maxCount: maximumScopeSize,
                element: { reader, item, itemPointer in reader.guid(item, at: itemPointer) }
            ) ?? []
        }
        let scope = Scope(
            groups: Set(guids("groups", reader: &reader)), organizationalUnits: Set(guids("ous", reader: &reader)))
        guard reader.issues.count == before else { return nil }
        guard !scope.groups.isEmpty || !scope.organizationalUnits.isEmpty else {
            reader.report(pointer, "must list at least one group or OU")
            return nil
        }
        guard scope.groups.count + scope.organizationalUnits.count <= maximumScopeSize else {
            reader.report(pointer, "must list at most \(maximumScopeSize) groups and OUs together")
            return nil
        }
        return scope
    }

    /// The subsetting as its document (without the id), every field written out.
    package var json: JSONValue {
        .object([
            "schema_version": .integer(Int64(Settings.schemaVersion)),
            "name": .string(name),
            "description": .string(description),
            "enabled": .bool(isEnabled),
            "target": .string(target.rawValue),
            "scope": .object([
                "groups": .array(scope.groups.sorted().map { .string($0.description) }),
                "ous": .array(scope.organizationalUnits.sorted().map { .string($0.description) }),
            ]),
            "overrides": overrides.json,
        ])
    }
}
