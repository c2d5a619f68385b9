import CharterJSON
internal import Foundation

/// The protected header of a JWS that Charter signs or accepts.
///
/// Parsing is strict: `alg` must be `Ed25519` (RFC 9864) or its deprecated synonym `EdDSA`
/// (RFC 8037, accepted on verification only, always with an Ed25519 key); `crit` is refused
/// because no extension is implemented; `kid`, `typ` and `cty` must be strings when present.
public struct JWSHeader: Sendable, Hashable {
    /// A JWS signature algorithm.
    public enum Algorithm: String, Sendable, Hashable {
        /// `Ed25519`, the fully specified name of RFC 9864; what Charter signs with.
        case ed25519 = "Ed25519"
        /// `EdDSA`, RFC 8037's polymorphic name, deprecated by RFC 9864; accepted for verification
        /// with an Ed25519 key only.
        case edDSA = "EdDSA"
    }

    /// The signature algorithm (`alg`).
    public var algorithm: Algorithm
    /// The signing key's id (`kid`), in Charter its RFC 7638 thumbprint.
    public var keyID: String?
    /// The media type of the whole object (`typ`).
    public var type: String?
    /// The media type of the payload (`cty`).
    public var contentType: String?

    /// Creates a header.
    ///
    /// - Parameters:
    ///   - algorithm: The signature algorithm.
    ///   - keyID: The signing key's id.
    ///   - type: The `typ` value.
    ///   - contentType: The `cty` value.
    public init(algorithm: Algorithm = .ed25519, keyID: String?, type: String?, contentType: String? = nil) {
        self.algorithm = algorithm
        self.keyID = keyID
        self.type = type
        self.contentType = contentType
    }

    init(members: [String: JSONValue]) throws(JOSEError) {
        if let crit = members["crit"] {
            let names = (crit.arrayValue ?? []).compactMap(\.stringValue)
            throw .unsupportedCriticalParameters(names)
        }
        guard let alg = members["alg"] else {
            throw .missingHeaderParameter("alg")
        }
        guard let algText = alg.stringValue else {
            throw .invalidHeaderParameter("alg")
        }
        guard let algorithm = Algorithm(rawValue: algText) else {
            throw .unsupportedAlgorithm(algText)
        }
        if let b64 = members["b64"], b64 != .bool(true) {
            throw .invalidHeaderParameter("b64")
        }
        self.algorithm = algorithm
        self.keyID = try HeaderMembers.optionalString("kid", in: members)
        self.type = try HeaderMembers.optionalString("typ", in: members)
        self.contentType = try HeaderMembers.optionalString("cty", in: members)
    }

    /// The header as JSON members.
    var members: [String: JSONValue] {
        var members: [String: JSONValue] = ["alg": .string(algorithm.rawValue)]
        if let keyID { members["kid"] = .string(keyID) }
        if let type { members["typ"] = .string(type) }
        if let contentType { members["cty"] = .string(contentType) }
        return members
    }
}

/// Reading of typed members shared by the JWS and JWE headers.
enum HeaderMembers {
    static func optionalString(_ name: String, in members: [String: JSONValue]) throws(JOSEError) -> String? {
        guard let value = members[name] else {
            return nil
        }
        guard let string = value.stringValue else {
            throw .invalidHeaderParameter(name)
        }
        return string
    }

    static func requiredString(_ name: String, in members: [String: JSONValue]) throws(JOSEError) -> String {
        guard let string = try optionalString(name, in: members) else {
            throw .missingHeaderParameter(name)
        }
        return string
    }

    static func decodeProtectedHeader(_ encoded: Substring) throws(JOSEError) -> [String: JSONValue] {
        guard let bytes = Base64URL.decode(encoded) else {
            throw .invalidBase64URL(part: "protected header")
        }
        guard let members = JSONCoding.object(from: bytes) else {
            throw .invalidJSON(part: "protected header")
        }
        return members
    }
}
