public import Foundation

/// A single-use challenge from `POST /v1/agent/challenge`, for the device key to sign.
public struct Challenge: Sendable, Hashable, Decodable {
    /// The nonce to sign (43 base64url characters).
    public var nonce: String
    /// When the service stops accepting it.
    public var expiresAt: Date

    private enum CodingKeys: String, CodingKey {
        case nonce
        case expiresAt = "expires_at"
    }
}

/// A new device token from `POST /v1/agent/token`.
///
/// > Warning: It holds the device token; store it as the enrollment's and never log it.
public struct DeviceTokenRenewal: Sendable, Hashable, Decodable {
    /// The new device token (`chtd_…`).
    public var deviceToken: String
    /// When it stops working unless renewed again.
    public var tokenExpiresAt: Date

    private enum CodingKeys: String, CodingKey {
        case deviceToken = "device_token"
        case tokenExpiresAt = "token_expires_at"
    }
}
