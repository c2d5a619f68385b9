import CharterBundle
import Crypto
import Foundation

/// A tenant, a device and a realistic bundle between them (tests only).
struct BundleFixture {
    let tenantKey = Curve25519.Signing.PrivateKey()
    let deviceKey = Curve25519.KeyAgreement.PrivateKey()
    let deviceID = "dev-7f3a"
    let issuer = "https://charter.example/tenants/acme"
    let tenant = "acme"
    let now = Date(timeIntervalSince1970: 1_767_225_600)

    var issuerService: BundleIssuer { BundleIssuer(signingKey: tenantKey) }
    var deviceJWK: JWK { JWK(deviceKey.publicKey) }

    var verifier: BundleVerifier {
        BundleVerifier(
            deviceID: deviceID,
            deviceKey: deviceKey,
            enrollmentKeys: JWKSet(keys: [JWK(tenantKey.publicKey)]),
            issuer: issuer,
            tenant: tenant
        )
    }

    static func settings(mode: String) -> JSONValue {
        [
            "run_as_admin": ["authorization": .string(mode), "offline_pin_overrides_denial": true],
            "admin_session": ["authorization": "disabled", "duration_minutes": 30],
            "pre_approved": [
                [
                    "name": "setup.exe", "kind": "installer", "protection": "checksum",
                    "sha256": .string(String(repeating: "ab", count: 32)),
                ]
            ],
            "endpoint": ["offline_grace_hours": 72, "poll_seconds": 300],
        ]
    }

    func claims(version: Int64 = 1, userCount: Int = 3, signingKeys: [BundleSigningKey]? = nil) -> BundleClaims {
        let users = (0..<userCount).map { index in
            BundlePolicy.User(
                sid: "S-1-5-21-1004336348-1177238915-682003330-\(1000 + index)",
                guid: UUID().uuidString.lowercased(),
                upn: "user\(index)@acme.example",
                document: index % 3 == 0 ? "approval" : "reason"
            )
        }
        return BundleClaims(
            issuer: issuer,
            deviceID: deviceID,
            tenant: tenant,
            version: version,
            issuedAt: now,
            notBefore: now - 60,
            expiresAt: now + 30 * 86_400,
            refreshAfter: now + 3_600,
            policy: BundlePolicy(
                documents: [
                    "computer": Self.settings(mode: "audit_only"),
                    "default": Self.settings(mode: "disabled"),
                    "approval": Self.settings(mode: "approval_required"),
                    "reason": Self.settings(mode: "reason_required"),
                ],
                computer: "computer",
                defaultUser: "default",
                users: users
            ),
            pin: OfflinePIN.generate(),
            signingKeys: signingKeys ?? [BundleSigningKey(key: JWK(tenantKey.publicKey), status: .active)]
        )
    }

    func bundle(_ claims: BundleClaims? = nil) throws -> String {
        try issuerService.issue(claims ?? self.claims(), to: deviceJWK)
    }
}
