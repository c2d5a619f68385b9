public import Foundation

/// The byte strings a device signs with its Ed25519 key to prove it holds that key (docs/agent-protocol.md,
/// "Device tokens" and "Re-enrollment").
///
/// Each is ASCII text: a purpose line, then one value per line, joined by a single line feed (0x0A), with no
/// trailing line feed. The purpose line keeps a signature for one use from being replayed for another; the
/// nonce is a single-use server challenge, so a signature cannot be replayed at all.
public enum DeviceProof {
    /// The purpose line of a token renewal.
    public static let renewalPurpose = "charter-agent-token-v1"
    /// The purpose line of a re-enrollment.
    public static let reenrollmentPurpose = "charter-agent-reenroll-v1"

    /// What a device signs to renew its device token:
    /// `charter-agent-token-v1 LF <nonce> LF <device id>`.
    ///
    /// - Parameters:
    ///   - nonce: The challenge's `nonce`, as received.
    ///   - deviceID: The device id in lower-case canonical UUID text.
    /// - Returns: The bytes to sign.
    public static func renewalMessage(nonce: String, deviceID: String) -> Data {
        Data([renewalPurpose, nonce, deviceID.lowercased()].joined(separator: "\n").utf8)
    }

    /// What a device signs, with its current key, to re-enroll with new keys:
    /// `charter-agent-reenroll-v1 LF <nonce> LF <device id> LF <new encryption key x> LF <new signing key x>`.
    ///
    /// - Parameters:
    ///   - nonce: The challenge's `nonce`, as received.
    ///   - deviceID: The device id in lower-case canonical UUID text.
    ///   - encryptionKey: The new X25519 public key (32 bytes), written as unpadded base64url.
    ///   - signingKey: The new Ed25519 public key (32 bytes), written as unpadded base64url.
    /// - Returns: The bytes to sign.
    public static func reenrollmentMessage(nonce: String, deviceID: String, encryptionKey: Data, signingKey: Data) -> Data {
        Data(
            [
                reenrollmentPurpose, nonce, deviceID.lowercased(), Base64URL.encode(encryptionKey),
                Base64URL.encode(signingKey),
            ].joined(separator: "\n").utf8
        )
    }
}
