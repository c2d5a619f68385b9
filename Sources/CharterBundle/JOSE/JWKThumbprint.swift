import CharterJSON
internal import Crypto
internal import Foundation

/// The JWK thumbprint of RFC 7638: SHA-256 over the required members, sorted, without whitespace.
enum JWKThumbprint {
    /// Computes the base64url thumbprint of a key given its required members.
    ///
    /// - Parameter requiredMembers: The required members of the key type and their string values.
    /// - Returns: The unpadded base64url SHA-256 digest of their canonical JSON.
    static func compute(requiredMembers: [String: String]) -> String {
        let canonical = JSONValue.object(requiredMembers.mapValues { .string($0) }).canonicalBytes
        return Base64URL.encode(Data(SHA256.hash(data: canonical)))
    }

    /// Computes the thumbprint of an OKP key, `{"crv":…,"kty":"OKP","x":…}`, without building a JSON tree.
    ///
    /// - Parameters:
    ///   - curve: The `crv` value.
    ///   - x: The raw public key.
    /// - Returns: The same text as ``compute(requiredMembers:)`` for these members.
    static func compute(curve: String, x: Data) -> String {
        var canonical: [UInt8] = []
        canonical.reserveCapacity(96)
        canonical.append(contentsOf: #"{"crv":"#.utf8)
        JSONValue.write(string: curve, to: &canonical)
        canonical.append(contentsOf: #","kty":"OKP","x":""#.utf8)
        Base64URL.append(encoding: x, to: &canonical)
        canonical.append(contentsOf: #""}"#.utf8)
        var hash = SHA256()
        hash.update(data: canonical)
        return Base64URL.encode(hash.finalize().withUnsafeBytes { Data($0) })
    }
}
