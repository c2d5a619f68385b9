package import CharterJSON
package import Foundation

/// A tenant's settings document (schema version 1): the global settings, and the shape every effective
/// policy has.
///
/// The document is JSON with snake_case keys and one top-level member per ``Section``, plus
/// `"schema_version": 1`. A section missing from a document takes its defaults; ``init()`` is the
/// restrictive default for a new tenant (every request needs approval). See docs/policy.md for every
/// field, its type, default and bounds.
package struct Settings: Hashable, Sendable {
    /// The schema version this type reads and writes.
    package static let schemaVersion = 1

    /// The top-level sections of the document; a subsetting overrides whole sections.
    package enum Section: String, Hashable, Sendable, CaseIterable, Comparable {
        case runAsAdmin = "run_as_admin"
        case adminSession = "admin_session"
        case approval
        case preApprovedApplications = "pre_approved_applications"
        case endpoint

        package static func < (lhs: Section, rhs: Section) -> Bool {
            allCases.firstIndex(of: lhs) ?? 0 < allCases.firstIndex(of: rhs) ?? 0
        }
    }

    package var runAsAdmin: RunAsAdmin
    package var adminSession: AdminSession
    package var approval: Approval
    package var preApprovedApplications: [PreApprovedApplication]
    package var endpoint: Endpoint

    /// The defaults of a new tenant: approval required for both kinds, no pre-approved applications.
    package init(
        runAsAdmin: RunAsAdmin = RunAsAdmin(),
        adminSession: AdminSession = AdminSession(),
        approval: Approval = Approval(),
        preApprovedApplications: [PreApprovedApplication] = [],
        endpoint: Endpoint = Endpoint()
    ) {
        self.runAsAdmin = runAsAdmin
        self.adminSession = adminSession
        self.approval = approval
        self.preApprovedApplications = preApprovedApplications
        self.endpoint = endpoint
    }

    /// Decodes and validates a settings document strictly.
    ///
    /// - Parameter data: UTF-8 JSON text.
    /// - Returns: The settings; sections the document omits take their defaults.
    /// - Throws: ``DocumentError`` listing every problem, each with the JSON pointer of the bad field:
    ///   invalid JSON, a missing or unsupported `schema_version`, unknown fields, wrong types, unknown
    ///   enumeration values, malformed hashes or paths, out-of-range durations, missing required fields.
    package static func decode(from data: Data) throws(DocumentError) -> Settings {
        let value = try JSONValue.parseDocument(data)
        var reader = DocumentReader()
        let settings = read(value, at: JSONPointer(), reader: &reader)
        if let settings, reader.issues.isEmpty {
            return settings
        }
        throw DocumentError(issues: reader.issues)
    }

    static func read(_ value: JSONValue, at pointer: JSONPointer, reader: inout DocumentReader) -> Settings? {
        let allowed = ["schema_version"] + Section.allCases.map(\.rawValue)
        guard let members = reader.object(value, at: pointer, allowed: allowed, required: ["schema_version"]) else {
            return nil
        }
        if let version = members["schema_version"] {
            let versionPointer = pointer.appending("schema_version")
            if let number = reader.integer(version, at: versionPointer, in: 0...Int.max), number != schemaVersion {
                reader.report(versionPointer, "unsupported schema version \(number); expected \(schemaVersion)")
            }
        }
        let overrides = SettingsOverrides.readSections(members, at: pointer, reader: &reader)
        return overrides.map { Settings().applying($0) }
    }

    /// This document as JSON, every field written out.
    package var json: JSONValue {
        var members: [String: JSONValue] = ["schema_version": .integer(Int64(Self.schemaVersion))]
        for section in Section.allCases {
            members[section.rawValue] = json(of: section)
        }
        return .object(members)
    }

    /// The canonical encoding (sorted keys, no whitespace): equal settings encode to equal bytes.
    package var canonicalData: Data { json.canonicalData }

    /// The JSON of one section.
    package func json(of section: Section) -> JSONValue {
        switch section {
        case .runAsAdmin: runAsAdmin.json
        case .adminSession: adminSession.json
        case .approval: approval.json
        case .preApprovedApplications: .array(preApprovedApplications.map(\.json))
        case .endpoint: endpoint.json
        }
    }

    /// These settings with every section `overrides` carries replaced wholesale.
    package func applying(_ overrides: SettingsOverrides) -> Settings {
        var result = self
        if let section = overrides.runAsAdmin { result.runAsAdmin = section }
        if let section = overrides.adminSession { result.adminSession = section }
        if let section = overrides.approval { result.approval = section }
        if let section = overrides.preApprovedApplications { result.preApprovedApplications = section }
        if let section = overrides.endpoint { result.endpoint = section }
        return result
    }
}
