import CharterJSON
public import Foundation

/// A JWK Set (RFC 7517 §5): `{"keys": [...]}`.
///
/// Parsing skips keys whose `kty` or `crv` this module does not support, as RFC 7517 §5
/// recommends, but fails on a supported key that is invalid.
public struct JWKSet: Sendable, Hashable, Codable {
    /// The keys.
    public var keys: [JWK]

    /// Creates a set of keys.
    ///
    /// - Parameter keys: The keys.
    public init(keys: [JWK]) {
        self.keys = keys
    }

    /// Parses a JWK Set from its JSON text.
    ///
    /// - Parameter jsonData: The JSON object with a `keys` array.
    /// - Throws: ``JOSEError/invalidJSON(part:)`` when there is no `keys` array, or the error of an invalid key.
    public init(jsonData: Data) throws(JOSEError) {
        guard let members = JSONCoding.object(from: jsonData), case .array(let entries)? = members["keys"] else {
            throw .invalidJSON(part: "JWK Set")
        }
        var keys: [JWK] = []
        for entry in entries {
            guard let keyMembers = entry.objectValue else {
                throw .invalidJSON(part: "JWK Set entry")
            }
            do {
                keys.append(try JWK(members: keyMembers))
            } catch .unsupportedKeyType, .unsupportedCurve {
                continue
            }
        }
        self.keys = keys
    }

    /// Decodes a JWK Set, skipping unsupported key types.
    ///
    /// - Parameter decoder: The decoder to read from.
    /// - Throws: ``JOSEError`` or `DecodingError`.
    public init(from decoder: any Decoder) throws {
        let value = try JSONValue(from: decoder)
        try self.init(jsonData: value.canonicalData)
    }

    /// Encodes the set as `{"keys": [...]}`.
    ///
    /// - Parameter encoder: The encoder to write to.
    /// - Throws: Only what the encoder throws.
    public func encode(to encoder: any Encoder) throws {
        try JSONValue.object(["keys": .array(keys.map { .object($0.members) })]).encode(to: encoder)
    }

    /// The JSON text of the set, with members sorted and no whitespace.
    public var jsonData: Data {
        JSONValue.object(["keys": .array(keys.map { .object($0.members) })]).canonicalData
    }

    /// The key with the given `kid`, if any.
    ///
    /// - Parameter keyID: The key id to look for.
    /// - Returns: The first key whose `kid` equals `keyID`.
    public func key(withID keyID: String) -> JWK? {
        keys.first { $0.keyID == keyID }
    }
}
