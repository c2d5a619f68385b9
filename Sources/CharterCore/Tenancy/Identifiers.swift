package import Foundation

/// A typed identifier: a UUID that cannot be confused with an identifier of another kind.
///
/// Each kind of entity gets its own alias (`TenantID`, `MSPID`, ...) over a distinct tag type, so a
/// `TenantID` cannot be passed where a `DeviceID` is expected.
package struct Identifier<Tag>: Hashable, Sendable, Codable, CustomStringConvertible {
    package let rawValue: UUID

    package init(_ rawValue: UUID) {
        self.rawValue = rawValue
    }

    /// Parses the standard 36-character UUID form; `nil` for anything else.
    package init?(_ string: String) {
        guard let uuid = UUID(uuidString: string) else { return nil }
        self.rawValue = uuid
    }

    /// A new random identifier.
    package static func random() -> Self {
        Self(UUID())
    }

    package var description: String { rawValue.uuidString.lowercased() }

    package init(from decoder: any Decoder) throws {
        self.rawValue = try decoder.singleValueContainer().decode(UUID.self)
    }

    package func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}

package enum MSPTag {}
package enum TenantTag {}
package enum PrincipalTag {}
package enum APIKeyTag {}
package enum AuditEventTag {}

package typealias MSPID = Identifier<MSPTag>
package typealias TenantID = Identifier<TenantTag>
package typealias PrincipalID = Identifier<PrincipalTag>
package typealias APIKeyID = Identifier<APIKeyTag>
package typealias AuditEventID = Identifier<AuditEventTag>

package enum DeviceTag {}
package enum EnrollmentTokenTag {}
package enum ConnectorTag {}
package enum PersonTag {}
package enum SessionTag {}
package enum RoleMappingTag {}
package enum PersonGrantTag {}

package typealias DeviceID = Identifier<DeviceTag>
package typealias EnrollmentTokenID = Identifier<EnrollmentTokenTag>
/// An on-premises directory connector (docs/connector-protocol.md).
package typealias ConnectorID = Identifier<ConnectorTag>
/// A technician of an MSP, known through the MSP's OpenID Connect provider (docs/identity.md).
package typealias PersonID = Identifier<PersonTag>
/// A person's browser session or personal token (docs/identity.md).
package typealias SessionID = Identifier<SessionTag>
/// A rule mapping a value of the groups claim to a role (docs/identity.md).
package typealias RoleMappingID = Identifier<RoleMappingTag>
/// A grant an MSP owner gave one person.
package typealias PersonGrantID = Identifier<PersonGrantTag>
