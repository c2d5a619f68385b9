import CharterJSON
public import Crypto
public import Foundation

/// A public Octet Key Pair JWK (RFC 7517, RFC 8037): an Ed25519 or X25519 public key.
///
/// Charter's JWKs are always public: a JWK with a `d` member is refused, because a private key
/// never travels in Charter's protocol. The `kid` of a key Charter makes is its RFC 7638
/// thumbprint. Members other than `kty`, `crv`, `x`, `kid`, `use` and `alg` are ignored when
/// parsing, as RFC 7517 §4 asks.
public struct JWK: Sendable, Hashable, Codable {
    /// The curve of an OKP key.
    public enum Curve: String, Sendable, Hashable, Codable {
        /// Ed25519, for signatures.
        case ed25519 = "Ed25519"
        /// X25519, for key agreement.
        case x25519 = "X25519"
    }

    /// The intended use of a key (`use`).
    public enum KeyUse: String, Sendable, Hashable, Codable {
        /// `sig`: signatures.
        case signature = "sig"
        /// `enc`: encryption.
        case encryption = "enc"
    }

    /// The byte length of an Ed25519 or X25519 public key.
    public static let publicKeyByteCount = 32

    /// The curve (`crv`).
    public let curve: Curve
    /// The raw public key (`x`), 32 bytes.
    public let x: Data
    /// The key id (`kid`), if any.
    public var keyID: String?
    /// The intended use (`use`), if any.
    public var use: KeyUse?
    /// The algorithm the key is meant for (`alg`), if any.
    public var algorithm: String?

    /// Creates a JWK from its members, checking the key length.
    ///
    /// - Parameters:
    ///   - curve: The curve.
    ///   - x: The raw 32-byte public key.
    ///   - keyID: The key id; `nil` leaves `kid` out.
    ///   - use: The intended use.
    ///   - algorithm: The intended algorithm.
    /// - Throws: ``JOSEError/invalidKey(member:)`` when `x` is not a valid public key of the curve.
    public init(curve: Curve, x: Data, keyID: String? = nil, use: KeyUse? = nil, algorithm: String? = nil)
        throws(JOSEError)
    {
        guard x.count == Self.publicKeyByteCount else {
            throw .invalidKey(member: "x")
        }
        switch curve {
        case .ed25519:
            guard (try? Curve25519.Signing.PublicKey(rawRepresentation: x)) != nil else {
                throw .invalidKey(member: "x")
            }
        case .x25519:
            guard (try? Curve25519.KeyAgreement.PublicKey(rawRepresentation: x)) != nil else {
                throw .invalidKey(member: "x")
            }
        }
        self.curve = curve
        self.x = Data(x)
        self.keyID = keyID
        self.use = use
        self.algorithm = algorithm
    }

    /// Creates the JWK of an Ed25519 public key, with `kid` its thumbprint, `use: sig` and `alg: Ed25519`.
    ///
    /// - Parameter key: The public signing key.
    public init(_ key: Curve25519.Signing.PublicKey) {
        self.curve = .ed25519
        self.x = key.rawRepresentation
        self.use = .signature
        self.algorithm = JWSHeader.Algorithm.ed25519.rawValue
        self.keyID = thumbprint
    }

    /// Creates the JWK of an X25519 public key, with `kid` its thumbprint, `use: enc` and `alg: ECDH-ES+A256KW`.
    ///
    /// - Parameter key: The public key-agreement key.
    public init(_ key: Curve25519.KeyAgreement.PublicKey) {
        self.curve = .x25519
        self.x = key.rawRepresentation
        self.use = .encryption
        self.algorithm = JWEHeader.KeyManagementAlgorithm.ecdhESA256KW.rawValue
        self.keyID = thumbprint
    }

    /// Parses a JWK from its JSON text.
    ///
    /// - Parameter jsonData: The JSON object.
    /// - Throws: ``JOSEError`` naming the first problem found.
    public init(jsonData: Data) throws(JOSEError) {
        guard let members = JSONCoding.object(from: jsonData) else {
            throw .invalidJSON(part: "JWK")
        }
        try self.init(members: members)
    }

    init(members: [String: JSONValue]) throws(JOSEError) {
        guard let kty = members["kty"] else {
            throw .invalidKey(member: "kty")
        }
        guard kty == .string("OKP") else {
            throw .unsupportedKeyType(kty.stringValue ?? "\(kty)")
        }
        guard let crv = members["crv"]?.stringValue else {
            throw .invalidKey(member: "crv")
        }
        guard let curve = Curve(rawValue: crv) else {
            throw .unsupportedCurve(crv)
        }
        guard members["d"] == nil else {
            throw .privateKeyMaterialPresent
        }
        guard let xText = members["x"]?.stringValue else {
            throw .invalidKey(member: "x")
        }
        guard let x = Base64URL.decode(xText) else {
            throw .invalidBase64URL(part: "JWK member 'x'")
        }
        let keyID = try Self.optionalString("kid", in: members)
        let use: KeyUse?
        if let useText = try Self.optionalString("use", in: members) {
            guard let known = KeyUse(rawValue: useText) else {
                throw .invalidKey(member: "use")
            }
            use = known
        } else {
            use = nil
        }
        let algorithm = try Self.optionalString("alg", in: members)
        try self.init(curve: curve, x: x, keyID: keyID, use: use, algorithm: algorithm)
    }

    /// The members of this JWK as JSON values.
    var members: [String: JSONValue] {
        var members: [String: JSONValue] = [
            "kty": .string("OKP"),
            "crv": .string(curve.rawValue),
            "x": .string(Base64URL.encode(x)),
        ]
        if let keyID { members["kid"] = .string(keyID) }
        if let use { members["use"] = .string(use.rawValue) }
        if let algorithm { members["alg"] = .string(algorithm) }
        return members
    }

    /// The JSON text of this JWK, with members sorted and no whitespace.
    public var jsonData: Data {
        JSONValue.object(members).canonicalData
    }

    /// The RFC 7638 thumbprint: base64url(SHA-256(`{"crv":…,"kty":"OKP","x":…}`)).
    public var thumbprint: String {
        JWKThumbprint.compute(curve: curve.rawValue, x: x)
    }

    /// This key as an Ed25519 verification key.
    ///
    /// - Throws: ``JOSEError/keyCurveMismatch(expected:actual:)`` when the key is X25519.
    public func signingPublicKey() throws(JOSEError) -> Curve25519.Signing.PublicKey {
        guard curve == .ed25519, let key = try? Curve25519.Signing.PublicKey(rawRepresentation: x) else {
            throw .keyCurveMismatch(expected: .ed25519, actual: curve)
        }
        return key
    }

    /// This key as an X25519 key-agreement key.
    ///
    /// - Throws: ``JOSEError/keyCurveMismatch(expected:actual:)`` when the key is Ed25519.
    public func agreementPublicKey() throws(JOSEError) -> Curve25519.KeyAgreement.PublicKey {
        guard curve == .x25519, let key = try? Curve25519.KeyAgreement.PublicKey(rawRepresentation: x) else {
            throw .keyCurveMismatch(expected: .x25519, actual: curve)
        }
        return key
    }

    /// Decodes and validates a JWK from a decoder.
    ///
    /// - Parameter decoder: The decoder to read from.
    /// - Throws: ``JOSEError`` for an invalid key, `DecodingError` for input that is not a JSON object.
    public init(from decoder: any Decoder) throws {
        try self.init(members: try [String: JSONValue](from: decoder))
    }

    /// Encodes the JWK's members.
    ///
    /// - Parameter encoder: The encoder to write to.
    /// - Throws: Only what the encoder throws.
    public func encode(to encoder: any Encoder) throws {
        try members.encode(to: encoder)
    }

    private static func optionalString(_ name: String, in members: [String: JSONValue]) throws(JOSEError) -> String? {
        guard let value = members[name] else {
            return nil
        }
        guard let string = value.stringValue else {
            throw .invalidKey(member: name)
        }
        return string
    }
}
