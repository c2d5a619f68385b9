public import CharterAgentWire
public import CharterBundle
public import Crypto
public import Foundation

/// What a device keeps from a successful `POST /v1/agent/enroll`, with the private keys it generated.
///
/// > Warning: It holds the device token and both private keys; a real agent stores it with the
/// > platform's protection (on Windows, DPAPI machine scope) and never logs it.
public struct Enrollment: Sendable {
    /// A directory computer the service linked the device to: its `guid`, `sid` and `name` as far as known.
    public typealias Computer = EnrollAnswer.Computer

    /// The device id: the bundles' `sub` and `aud`.
    public var deviceID: String
    /// The device token, sent as `Authorization: Bearer chtd_…`.
    public var deviceToken: String
    /// When the device token stops working; renew it before (``AgentClient/renewToken(deviceID:signingKey:)``).
    public var tokenExpiresAt: Date?
    /// The tenant id: the bundles' `tenant`.
    public var tenantID: String
    /// The issuer: the bundles' `iss`.
    public var issuer: String
    /// The tenant signing keys to pin (entries without `status` are pinned as `active`).
    public var signingKeys: [BundleSigningKey]
    /// The linked directory computer, or `nil` while none is linked.
    public var computer: Computer?
    /// Whether the service replaced an existing device's keys (`200`) rather than creating one (`201`).
    public var isReenrollment: Bool
    /// Whether the device waits for an administrator's approval (`202`): another device stands for the
    /// computer and no proof by its key was given.
    public var isPendingApproval: Bool
    /// The X25519 private key bundles are encrypted to.
    public var encryptionKey: Curve25519.KeyAgreement.PrivateKey
    /// The Ed25519 private key registered with the device.
    public var signingKey: Curve25519.Signing.PrivateKey

    /// Creates an enrollment record.
    ///
    /// - Parameters:
    ///   - deviceID: The device id.
    ///   - deviceToken: The device token.
    ///   - tokenExpiresAt: When the device token expires.
    ///   - tenantID: The tenant id.
    ///   - issuer: The issuer.
    ///   - signingKeys: The keys to pin.
    ///   - computer: The linked computer.
    ///   - isReenrollment: Whether it replaced an existing device.
    ///   - isPendingApproval: Whether the device waits for approval.
    ///   - encryptionKey: The X25519 private key.
    ///   - signingKey: The Ed25519 private key.
    public init(
        deviceID: String,
        deviceToken: String,
        tokenExpiresAt: Date? = nil,
        tenantID: String,
        issuer: String,
        signingKeys: [BundleSigningKey],
        computer: Computer? = nil,
        isReenrollment: Bool = false,
        isPendingApproval: Bool = false,
        encryptionKey: Curve25519.KeyAgreement.PrivateKey,
        signingKey: Curve25519.Signing.PrivateKey
    ) {
        self.deviceID = deviceID
        self.deviceToken = deviceToken
        self.tokenExpiresAt = tokenExpiresAt
        self.tenantID = tenantID
        self.issuer = issuer
        self.signingKeys = signingKeys
        self.computer = computer
        self.isReenrollment = isReenrollment
        self.isPendingApproval = isPendingApproval
        self.encryptionKey = encryptionKey
        self.signingKey = signingKey
    }

    /// A verifier for this device's bundles, pinning the enrollment's signing keys and expecting
    /// its device id, issuer and tenant.
    public var bundleVerifier: BundleVerifier {
        BundleVerifier(
            deviceID: deviceID,
            deviceKey: encryptionKey,
            trustedKeys: signingKeys,
            issuer: issuer,
            tenant: tenantID
        )
    }
}
