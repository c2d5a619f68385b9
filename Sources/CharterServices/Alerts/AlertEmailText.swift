package import CharterCore
package import CharterJSON
package import Foundation

/// The plain-text email of an alert (docs/alerts.md, "Email"): the subject names the event and the tenant, the
/// body the tenant, the event, when, and the subject's fields one per line, as the webhook's body has them (the
/// audit log's snapshot: nothing secret). Every value is put on one line.
package struct AlertEmailText: Hashable, Sendable {
    package var subject: String
    package var body: String

    /// - Parameters:
    ///   - subject: the name of the thing the alert is about (`sync_run`, `device`, …).
    ///   - snapshot: its snapshot.
    package init(event: String, tenant: Tenant, subject name: String, snapshot: JSONValue, at now: Date) {
        let what = Self.titles[event] ?? event
        let tenantName = EmailText.line(tenant.name)
        subject = "Charter alert: \(what) (\(tenantName.count <= 60 ? tenantName : tenantName.prefix(59) + "…"))"
        var fields = [
            ("Tenant", "\(tenantName) (\(tenant.id))"), ("Event", "\(event): \(what)"),
            ("Occurred", now.ISO8601Format()),
        ]
        fields += Self.fields(of: snapshot, prefix: name)
        let width = fields.map(\.0.count).max() ?? 0
        let table = fields.map { label, value in
            EmailText.line(label) + ":" + String(repeating: " ", count: max(2, width - label.count + 2))
                + EmailText.line(value)
        }
        let footer = [
            "-- ",
            "Charter sends this to the addresses subscribed to \(event) in the tenant's alert emails",
            "(/v1/tenants/\(tenant.id)/alert-emails) or its MSP's (/v1/msps/\(tenant.mspID)/alert-emails).",
        ]
        body = (["Charter raised an alert in tenant \(tenantName).", ""] + table + [""] + footer)
            .joined(separator: "\n") + "\n"
    }

    /// What the subject line calls each event.
    static let titles = [
        AlertEvent.syncFailed: "directory sync failed", AlertEvent.syncHeld: "directory sync held by the deletion guard",
        AlertEvent.deviceRevoked: "device revoked", AlertEvent.bundleRejected: "bundle rejected by an agent",
        AlertEvent.chainBroken: "audit chain broken",
    ]

    /// The snapshot's members as `(label, value)`, by name (`sync_run.status`); nested objects by dotted names,
    /// arrays joined by commas.
    static func fields(of value: JSONValue, prefix: String) -> [(String, String)] {
        switch value {
        case .object(let members):
            members.keys.sorted().flatMap { fields(of: members[$0] ?? .null, prefix: "\(prefix).\($0)") }
        case .array(let items):
            [(prefix, items.map { fields(of: $0, prefix: "").map(\.1).joined(separator: " ") }.joined(separator: ", "))]
        case .string(let text): [(prefix, text)]
        case .integer(let number): [(prefix, "\(number)")]
        case .number(let number): [(prefix, "\(number)")]
        case .bool(let flag): [(prefix, "\(flag)")]
        case .null: [(prefix, "(none)")]
        }
    }
}
