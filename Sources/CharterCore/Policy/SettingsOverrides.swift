package import CharterJSON
package import Foundation

/// A partial settings document: the sections a subsetting replaces.
///
/// Each section present replaces the global section wholesale; absent sections are inherited. Inside a
/// present section, fields the document omits take their documented defaults, not the global values, so
/// a subsetting reads the same whatever the global settings say.
package struct SettingsOverrides: Hashable, Sendable {
    package var runAsAdmin: Settings.RunAsAdmin?
    package var adminSession: Settings.AdminSession?
    package var approval: Settings.Approval?
    package var preApprovedApplications: [Settings.PreApprovedApplication]?
    package var endpoint: Settings.Endpoint?

    package init(
        runAsAdmin: Settings.RunAsAdmin? = nil,
        adminSession: Settings.AdminSession? = nil,
        approval: Settings.Approval? = nil,
        preApprovedApplications: [Settings.PreApprovedApplication]? = nil,
        endpoint: Settings.Endpoint? = nil
    ) {
        self.runAsAdmin = runAsAdmin
        self.adminSession = adminSession
        self.approval = approval
        self.preApprovedApplications = preApprovedApplications
        self.endpoint = endpoint
    }

    /// The sections this override replaces, in document order.
    package var sections: [Settings.Section] {
        Settings.Section.allCases.filter { section in
            switch section {
            case .runAsAdmin: runAsAdmin != nil
            case .adminSession: adminSession != nil
            case .approval: approval != nil
            case .preApprovedApplications: preApprovedApplications != nil
            case .endpoint: endpoint != nil
            }
        }
    }

    /// Decodes and validates a standalone overrides document (an object of sections, no `schema_version`).
    ///
    /// - Throws: ``DocumentError`` with pointers relative to the overrides document
    ///   (e.g. `/run_as_admin/mode`). Inside a subsetting document the same problems carry the
    ///   `/overrides` prefix.
    package static func decode(from data: Data) throws(DocumentError) -> SettingsOverrides {
        let value = try JSONValue.parseDocument(data)
        var reader = DocumentReader()
        let overrides = read(value, at: JSONPointer(), reader: &reader)
        if let overrides, reader.issues.isEmpty {
            return overrides
        }
        throw DocumentError(issues: reader.issues)
    }

    static func read(_ value: JSONValue, at pointer: JSONPointer, reader: inout DocumentReader)
        -> SettingsOverrides?
    {
        guard let members = reader.object(value, at: pointer, allowed: Settings.Section.allCases.map(\.rawValue))
        else { return nil }
        return readSections(members, at: pointer, reader: &reader)
    }

    /// Reads every section present in `members`; `nil` when any of them is invalid.
    static func readSections(
        _ members: [String: JSONValue],
        at pointer: JSONPointer,
        reader: inout DocumentReader
    ) -> SettingsOverrides? {
        let before = reader.issues.count
        var result = SettingsOverrides()
        for section in Settings.Section.allCases {
            guard let value = members[section.rawValue] else { continue }
            let sectionPointer = pointer.appending(section.rawValue)
            switch section {
            case .runAsAdmin:
                result.runAsAdmin = Settings.RunAsAdmin.read(value, at: sectionPointer, reader: &reader)
            case .adminSession:
                result.adminSession = Settings.AdminSession.read(value, at: sectionPointer, reader: &reader)
            case .approval:
                result.approval = Settings.Approval.read(value, at: sectionPointer, reader: &reader)
            case .preApprovedApplications:
                result.preApprovedApplications = Settings.PreApprovedApplication.readList(
                    value,
                    at: sectionPointer,
                    reader: &reader
                )
            case .endpoint:
                result.endpoint = Settings.Endpoint.read(value, at: sectionPointer, reader: &reader)
            }
        }
        return reader.issues.count == before ? result : nil
    }

    /// The overrides as JSON: one member per present section.
    package var json: JSONValue {
        let full = Settings().applying(self)
        return .object(Dictionary(uniqueKeysWithValues: sections.map { ($0.rawValue, full.json(of: $0)) }))
    }
}
