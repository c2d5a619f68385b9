internal import Crypto
internal import Foundation

/// The JWK thumbprint of RFC 7638: SHA-256 over the required members, sorted, without whitespace.
enum JWKThumbprint {
    /// Computes the base64url thumbprint of a key given its required members.
    ///
    /// - Parameter requiredMembers: The required members of the key type and their string values.
    /// - Returns: The unpadded base64url SHA-256 digest of their canonical JSON.
    static func compute(requiredMembers: [String: String]) -> String {
        let canonical = JSONValue.object(requiredMembers.mapValues { .string($0) }).canonicalData
        return Base64URL.encode(Data(SHA256.hash(data: canonical)))
    }
}
