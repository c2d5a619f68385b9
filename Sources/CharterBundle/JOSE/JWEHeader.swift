import CharterJSON
public import Foundation

/// The protected header of a JWE that Charter encrypts or accepts.
///
/// Only `alg: ECDH-ES+A256KW` with an X25519 `epk` and `enc: A256GCM` are accepted; `zip` and
/// `crit` are refused.
public struct JWEHeader: Sendable, Hashable {
    /// A JWE key-management algorithm.
    public enum KeyManagementAlgorithm: String, Sendable, Hashable {
        /// `ECDH-ES+A256KW`: ephemeral-static ECDH, Concat KDF, AES-256 key wrap (RFC 7518 §4.6).
        case ecdhESA256KW = "ECDH-ES+A256KW"
    }

    /// A JWE content-encryption algorithm.
    public enum ContentEncryption: String, Sendable, Hashable {
        /// `A256GCM`: AES-256-GCM (RFC 7518 §5.3).
        case a256GCM = "A256GCM"
    }

    /// The key-management algorithm (`alg`).
    public var algorithm: KeyManagementAlgorithm
    /// The content-encryption algorithm (`enc`).
    public var encryption: ContentEncryption
    /// The sender's ephemeral X25519 public key (`epk`).
    public var ephemeralPublicKey: JWK
    /// The recipient key's id (`kid`), in Charter its RFC 7638 thumbprint.
    public var keyID: String?
    /// The media type of the whole object (`typ`).
    public var type: String?
    /// The media type of the plaintext (`cty`), `JWT` for a nested JWT.
    public var contentType: String?
    /// The agreement PartyUInfo (`apu`), decoded; `nil` when absent.
    public var partyUInfo: Data?
    /// The agreement PartyVInfo (`apv`), decoded; `nil` when absent.
    public var partyVInfo: Data?

    init(
        ephemeralPublicKey: JWK,
        keyID: String?,
        type: String?,
        contentType: String?,
        partyUInfo: Data?,
        partyVInfo: Data?
    ) {
        self.algorithm = .ecdhESA256KW
        self.encryption = .a256GCM
        self.ephemeralPublicKey = ephemeralPublicKey
        self.keyID = keyID
        self.type = type
        self.contentType = contentType
        self.partyUInfo = partyUInfo
        self.partyVInfo = partyVInfo
    }

    init(members: [String: JSONValue]) throws(JOSEError) {
        if let crit = members["crit"] {
            throw .unsupportedCriticalParameters((crit.arrayValue ?? []).compactMap(\.stringValue))
        }
        if let zip = members["zip"] {
            throw .unsupportedCompression(zip.stringValue ?? "\(zip)")
        }
        let alg = try HeaderMembers.requiredString("alg", in: members)
        guard let algorithm = KeyManagementAlgorithm(rawValue: alg) else {
            throw .unsupportedAlgorithm(alg)
        }
        let enc = try HeaderMembers.requiredString("enc", in: members)
        guard let encryption = ContentEncryption(rawValue: enc) else {
            throw .unsupportedEncryption(enc)
        }
        guard let epk = members["epk"] else {
            throw .missingHeaderParameter("epk")
        }
        guard let epkMembers = epk.objectValue else {
            throw .invalidHeaderParameter("epk")
        }
        let ephemeralPublicKey = try JWK(members: epkMembers)
        guard ephemeralPublicKey.curve == .x25519 else {
            throw .keyCurveMismatch(expected: .x25519, actual: ephemeralPublicKey.curve)
        }
        self.algorithm = algorithm
        self.encryption = encryption
        self.ephemeralPublicKey = ephemeralPublicKey
        self.keyID = try HeaderMembers.optionalString("kid", in: members)
        self.type = try HeaderMembers.optionalString("typ", in: members)
        self.contentType = try HeaderMembers.optionalString("cty", in: members)
        self.partyUInfo = try Self.optionalBytes("apu", in: members)
        self.partyVInfo = try Self.optionalBytes("apv", in: members)
    }

    /// The header as JSON members; the `epk` carries only `kty`, `crv` and `x`.
    var members: [String: JSONValue] {
        var epk = ephemeralPublicKey
        epk.keyID = nil
        epk.use = nil
        epk.algorithm = nil
        var members: [String: JSONValue] = [
            "alg": .string(algorithm.rawValue),
            "enc": .string(encryption.rawValue),
            "epk": .object(epk.members),
        ]
        if let keyID { members["kid"] = .string(keyID) }
        if let type { members["typ"] = .string(type) }
        if let contentType { members["cty"] = .string(contentType) }
        if let partyUInfo { members["apu"] = .string(Base64URL.encode(partyUInfo)) }
        if let partyVInfo { members["apv"] = .string(Base64URL.encode(partyVInfo)) }
        return members
    }

    private static func optionalBytes(_ name: String, in members: [String: JSONValue]) throws(JOSEError) -> Data? {
        guard let text = try HeaderMembers.optionalString(name, in: members) else {
            return nil
        }
        guard let bytes = Base64URL.decode(text) else {
            throw .invalidHeaderParameter(name)
        }
        return bytes
    }
}
