package import CharterBundle
package import CharterCore
package import CharterStore
package import Foundation

extension EnrollmentToken {
    /// What the audit log keeps of an enrollment token: never its secret or hash.
    package var auditSnapshot: String {
        var snapshot: [String: any Sendable] = ["id": id.description, "name": name, "purpose": purpose.rawValue]
        if let expiresAt { snapshot["expires_at"] = expiresAt.ISO8601Format() }
        if let maximumUses { snapshot["max_uses"] = maximumUses }
        if let revokedAt { snapshot["revoked_at"] = revokedAt.ISO8601Format() }
        return AuditJSON.encode(snapshot)
    }
}

extension Device {
    /// What the audit log keeps of a device: never its token hash or PIN secret.
    package var auditSnapshot: String {
        auditSnapshot(claiming: [])
    }

    /// The snapshot of an enrollment that waits for approval, naming the devices it claims to stand for.
    package func auditSnapshot(claiming claimed: [DeviceID]) -> String {
        var snapshot: [String: any Sendable] = [
            "id": id.description, "hostname": hostname, "agent_version": agentVersion,
            "encryption_key_thumbprint": Self.thumbprint(curve: .x25519, encryptionKey),
            "signing_key_thumbprint": Self.thumbprint(curve: .ed25519, signingKey),
        ]
        if let computer { snapshot["computer"] = computer.description }
        if let revokedAt { snapshot["revoked_at"] = revokedAt.ISO8601Format() }
        if isPendingApproval { snapshot["pending_approval"] = true }
        if !claimed.isEmpty { snapshot["claims_devices"] = claimed.map(\.description) }
        return AuditJSON.encode(snapshot)
    }

    /// The RFC 7638 thumbprint of one of the device's raw public keys.
    package static func thumbprint(curve: JWK.Curve, _ key: Data) -> String {
        (try? JWK(curve: curve, x: key).thumbprint) ?? ""
    }
}
