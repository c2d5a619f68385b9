import Crypto
package import Foundation

/// The challenges the service hands to devices to sign (token renewal, re-enrollment proof), minted without
/// storing anything: the nonce carries its own expiry and a MAC under a key derived from the key-encryption
/// keys, so any replica can check it and an unauthenticated caller asking for challenges writes nothing.
///
/// A nonce is unpadded base64url of 57 bytes: version `1`, the expiry in seconds since 1970 (8 bytes,
/// big-endian), 16 random bytes, and HMAC-SHA256 over the preceding 25. The service keeps
/// a nonce's hash only once a valid signature over it was presented, so each one is used at most once.
package struct ServerChallenges: Sendable {
    /// How long a challenge may be signed and used.
    package static let lifetime: TimeInterval = 300
    private static let version: UInt8 = 1
    private static let macBytes = 32
    private static let nonceBytes = 1 + 8 + 16 + macBytes
    private static let derivationInfo = Data("charter agent challenge v1".utf8)

    /// Mints with the first key; accepts a MAC under any (a key rotation does not void challenges in flight).
    private let keys: [SymmetricKey]

    /// Challenges keyed by the sealer's key-encryption keys, the active one first.
    package init(sealer: SecretSealer) {
        self.init(keys: sealer.orderedKeys)
    }

    init(keys: [SymmetricKey]) {
        self.keys = keys.map {
            HKDF<SHA256>.deriveKey(inputKeyMaterial: $0, info: Self.derivationInfo, outputByteCount: 32)
        }
    }

    /// A new challenge valid for ``lifetime`` from `now`.
    package func mint(now: Date) -> (nonce: String, expiresAt: Date) {
        let expiry = UInt64(max(0, (now.timeIntervalSince1970 + Self.lifetime).rounded(.up)))
        var bytes: [UInt8] = [Self.version]
        withUnsafeBytes(of: expiry.bigEndian) { bytes.append(contentsOf: $0) }
        bytes.append(contentsOf: SymmetricKey(size: .bits128).withUnsafeBytes { Array($0) })
        bytes.append(contentsOf: HMAC<SHA256>.authenticationCode(for: bytes, using: keys[0]))
        return (Base64URL.encode(Data(bytes)), Date(timeIntervalSince1970: TimeInterval(expiry)))
    }

    /// The expiry of a nonce this service minted that has not expired at `now`; `nil` for anything else
    /// (malformed, forged, altered or expired). Whether it was already used is for the caller to check.
    package func expiry(of nonce: String, now: Date) -> Date? {
        guard nonce.utf8.count <= 100, let data = Base64URL.decode(nonce), data.count == Self.nonceBytes,
            data.first == Self.version
        else { return nil }
        let signed = data.prefix(Self.nonceBytes - Self.macBytes)
        let tag = data.suffix(Self.macBytes)
        // The MAC is checked (in constant time) before anything else of the nonce is believed.
        guard keys.contains(where: { HMAC<SHA256>.isValidAuthenticationCode(tag, authenticating: signed, using: $0) })
        else { return nil }
        let expiry = signed.dropFirst().prefix(8).reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        let expiresAt = Date(timeIntervalSince1970: TimeInterval(expiry))
        return expiresAt > now ? expiresAt : nil
    }
}
