package import CharterJSON
package import Foundation

package enum BaselineTag {}
/// Identifies one baseline of an MSP.
package typealias BaselineID = Identifier<BaselineTag>

/// An MSP's policy template, assigned to any number of its tenants (docs/baselines.md).
///
/// A baseline carries a settings fragment (whole sections, as a subsetting's `overrides`), subsettings whose
/// scopes name groups and OUs by name or well-known SID (resolved per tenant against its synced directory),
/// and a library of pre-approved applications that every assigned tenant's list is extended with.
package struct Baseline: Hashable, Sendable {
    /// One subsetting of a baseline: a tenant subsetting whose scope names directory objects instead of
    /// listing their objectGUIDs.
    package struct Subsetting: Hashable, Sendable {
        package var name: String
        package var description: String
        package var isEnabled: Bool
        package var target: CharterCore.Subsetting.Target
        package var scope: NamedScope
        package var overrides: SettingsOverrides

        package init(
            name: String, description: String = "", isEnabled: Bool = true,
            target: CharterCore.Subsetting.Target, scope: NamedScope, overrides: SettingsOverrides
        ) {
            self.name = name
            self.description = description
            self.isEnabled = isEnabled
            self.target = target
            self.scope = scope
            self.overrides = overrides
        }

        var json: JSONValue {
            .object([
                "name": .string(name),
                "description": .string(description),
                "enabled": .bool(isEnabled),
                "target": .string(target.rawValue),
                "scope": scope.json,
                "overrides": overrides.json,
            ])
        }
    }

    /// The most subsettings one baseline may carry.
    package static let maximumSubsettings = 100
    /// The most baselines one tenant may have assigned.
    package static let maximumAssigned = 100

    package var id: BaselineID
    package var name: String
    package var description: String
    /// Whole sections for the tenants that do not set them; never `pre_approved_applications` (see ``library``).
    package var settings: SettingsOverrides
    /// Applied after the tenant's own subsettings, in this order.
    package var subsettings: [Subsetting]
    /// Appended to every assigned tenant's `pre_approved_applications`.
    package var library: [Settings.PreApprovedApplication]

    package init(
        id: BaselineID, name: String, description: String = "", settings: SettingsOverrides = SettingsOverrides(),
        subsettings: [Subsetting] = [], library: [Settings.PreApprovedApplication] = []
    ) {
        self.id = id
        self.name = name
        self.description = description
        self.settings = settings
        self.subsettings = subsettings
        self.library = library
    }

    /// Decodes and validates a baseline document strictly.
    ///
    /// The document is `{"schema_version": 1, "name", "description"?, "settings"?: {sections…},
    /// "subsettings"?: [{"name", "description"?, "enabled"?, "target", "scope": {"groups"?, "ous"?},
    /// "overrides"}], "pre_approved_applications"?: [entries]}`.
    ///
    /// - Throws: ``DocumentError`` listing every problem, with pointers relative to the document
    ///   (`/settings/run_as_admin/mode`, `/subsettings/0/scope/groups/1`, `/pre_approved_applications/2/file_name`).
    package static func decode(from data: Data, id: BaselineID) throws(DocumentError) -> Baseline {
        let value = try JSONValue.parseDocument(data)
        var reader = DocumentReader()
        let baseline = read(value, id: id, reader: &reader)
        if let baseline, reader.issues.isEmpty { return baseline }
        throw DocumentError(issues: reader.issues)
    }

    /// Decodes one library entry on its own (the body that adds one application to a baseline's library).
    ///
    /// - Throws: ``DocumentError`` with pointers relative to the entry (`/protection/sha256`).
    package static func decodeLibraryEntry(from data: Data) throws(DocumentError) -> Settings.PreApprovedApplication {
        let value = try JSONValue.parseDocument(data)
        var reader = DocumentReader()
        let entry = Settings.PreApprovedApplication.read(value, at: JSONPointer(), reader: &reader)
        if let entry, reader.issues.isEmpty { return entry }
        throw DocumentError(issues: reader.issues)
    }

    private static func read(_ value: JSONValue, id: BaselineID, reader: inout DocumentReader) -> Baseline? {
        let before = reader.issues.count
        let optional = ["description", "settings", "subsettings", "pre_approved_applications"]
        guard
            let members = reader.object(
                value, at: JSONPointer(), allowed: ["schema_version", "name"] + optional,
                required: ["schema_version", "name"]
            )
        else { return nil }
        if let version = members["schema_version"],
            let number = reader.integer(version, at: "/schema_version", in: 0...Int.max),
            number != Settings.schemaVersion
        {
            reader.report("/schema_version", "unsupported schema version \(number); expected \(Settings.schemaVersion)")
        }
        let name = members["name"].flatMap {
            reader.nonEmptyString($0, at: "/name", maxLength: CharterCore.Subsetting.maximumNameLength)
        }
        let description =
            members["description"].map {
                reader.string($0, at: "/description", maxLength: CharterCore.Subsetting.maximumDescriptionLength)
            } ?? ""
        var settings = SettingsOverrides()
        if let fragment = members["settings"] {
            let pointer: JSONPointer = "/settings"
            if case .object(let sections) = fragment, sections[Settings.Section.preApprovedApplications.rawValue] != nil {
                reader.report(
                    pointer.appending(Settings.Section.preApprovedApplications.rawValue),
                    "a baseline's pre-approved applications are its library: use the top-level pre_approved_applications"
                )
            }
            settings = SettingsOverrides.read(fragment, at: pointer, reader: &reader) ?? settings
        }
        var subsettings: [Subsetting] = []
        if let list = members["subsettings"],
            let items = reader.array(list, at: "/subsettings", maxCount: maximumSubsettings)
        {
            let listPointer: JSONPointer = "/subsettings"
            for (index, item) in items.enumerated() {
                if let subsetting = readSubsetting(item, at: listPointer.appending(index), reader: &reader) {
                    subsettings.append(subsetting)
                }
            }
        }
        var library: [Settings.PreApprovedApplication] = []
        if let list = members["pre_approved_applications"] {
            library =
                Settings.PreApprovedApplication.readList(list, at: "/pre_approved_applications", reader: &reader) ?? []
        }
        guard reader.issues.count == before, let name, let description else { return nil }
        return Baseline(
            id: id, name: name, description: description, settings: settings, subsettings: subsettings,
            library: library
        )
    }

    private static func readSubsetting(_ value: JSONValue, at pointer: JSONPointer, reader: inout DocumentReader)
        -> Subsetting?
    {
        let required = ["name", "target", "scope", "overrides"]
        guard
            let members = reader.object(
                value, at: pointer, allowed: required + ["description", "enabled"], required: required
            )
        else { return nil }
        let name = members["name"].flatMap {
            reader.nonEmptyString($0, at: pointer.appending("name"), maxLength: CharterCore.Subsetting.maximumNameLength)
        }
        let description =
            members["description"].map {
                reader.string(
                    $0, at: pointer.appending("description"),
                    maxLength: CharterCore.Subsetting.maximumDescriptionLength
                )
            } ?? ""
        let isEnabled = members["enabled"].map { reader.bool($0, at: pointer.appending("enabled")) } ?? true
        let target = members["target"].flatMap {
            reader.enumeration($0, at: pointer.appending("target"), as: CharterCore.Subsetting.Target.self)
        }
        let scope = members["scope"].flatMap { NamedScope.read($0, at: pointer.appending("scope"), reader: &reader) }
        let overrides = members["overrides"].flatMap {
            SettingsOverrides.read($0, at: pointer.appending("overrides"), reader: &reader)
        }
        guard let name, let description, let isEnabled, let target, let scope, let overrides else { return nil }
        return Subsetting(
            name: name, description: description, isEnabled: isEnabled, target: target, scope: scope,
            overrides: overrides
        )
    }

    /// The baseline as its document (without the id), every field written out.
    package var json: JSONValue {
        .object([
            "schema_version": .integer(Int64(Settings.schemaVersion)),
            "name": .string(name),
            "description": .string(description),
            "settings": settings.json,
            "subsettings": .array(subsettings.map(\.json)),
            "pre_approved_applications": .array(library.map(\.json)),
        ])
    }

    /// The id the subsetting at `index` has in a tenant's combined list: the baseline's id with its last two
    /// bytes mixed with the position, so it is stable while the baseline keeps its order and distinct from
    /// every other baseline's.
    package func subsettingID(at index: Int) -> SubsettingID {
        var bytes = id.rawValue.uuid
        withUnsafeMutableBytes(of: &bytes) { raw in
            raw[14] ^= UInt8(truncatingIfNeeded: (index + 1) >> 8)
            raw[15] ^= UInt8(truncatingIfNeeded: index + 1)
        }
        return SubsettingID(UUID(uuid: bytes))
    }
}

/// A baseline as an explanation names it.
package struct BaselineReference: Hashable, Sendable {
    package var id: BaselineID
    package var name: String

    package init(id: BaselineID, name: String) {
        self.id = id
        self.name = name
    }
}

extension Baseline {
    package var reference: BaselineReference { BaselineReference(id: id, name: name) }
}
