package import Foundation

/// A managed service provider: the top of the ownership tree.
package struct MSP: Hashable, Sendable {
    package var id: MSPID
    package var name: String
    package var createdAt: Date

    package init(id: MSPID, name: String, createdAt: Date) {
        self.id = id
        self.name = name
        self.createdAt = createdAt
    }
}

/// A customer company of an MSP, with its own directory, policy and devices.
package struct Tenant: Hashable, Sendable {
    package var id: TenantID
    package var mspID: MSPID
    package var name: String
    /// Incremented on every change; the admin API's `ETag`.
    package var version: Int64
    package var createdAt: Date
    package var updatedAt: Date

    package init(id: TenantID, mspID: MSPID, name: String, version: Int64, createdAt: Date, updatedAt: Date) {
        self.id = id
        self.mspID = mspID
        self.name = name
        self.version = version
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }
}

/// Names of MSPs, tenants, principals and keys: trimmed, 1–200 characters, no control characters.
package enum DisplayName {
    package static let maximumLength = 200

    /// Returns the trimmed name, or `nil` when it is empty, too long or contains control characters.
    package static func validated(_ raw: String) -> String? {
        let name = raw.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !name.isEmpty, name.unicodeScalars.count <= maximumLength else { return nil }
        // Control and format characters (Unicode Cc, Cf); unassigned and private-use ones are names like others.
        guard !name.unicodeScalars.contains(where: { [.control, .format].contains($0.properties.generalCategory) })
        else { return nil }
        return name
    }
}
