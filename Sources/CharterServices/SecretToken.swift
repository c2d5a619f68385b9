import CharterBundle
package import CharterCore
import Crypto
import Foundation

/// The kinds of bearer token, each with its own prefix.
package protocol SecretTokenKind {
    /// The token's first characters, such as `chtr_`.
    static var prefix: String { get }
}

/// A bearer token: a prefix naming its kind, the id of the row it belongs to (32 hex digits), `_`, and 256
/// random bits in base64url (43 characters). The service stores only the SHA-256 of the secret part.
package struct SecretToken<Kind: SecretTokenKind>: Sendable {
    /// The id of the key, device or enrollment token.
    package let id: Identifier<Kind>
    let secret: String

    /// SHA-256 of the secret part, as stored.
    package var secretHash: [UInt8] { Array(SHA256.hash(data: Data(secret.utf8))) }

    /// The full bearer token.
    package var string: String {
        Kind.prefix + id.rawValue.uuidString.replacingOccurrences(of: "-", with: "").lowercased() + "_" + secret
    }

    /// A new token for a new random id.
    package static func generate() -> Self {
        generate(for: .random())
    }

    /// A new secret for an existing id (a re-enrolled device keeps its id).
    package static func generate(for id: Identifier<Kind>) -> Self {
        let secret = SymmetricKey(size: .bits256).withUnsafeBytes { Base64URL.encode($0) }
        return Self(id: id, secret: secret)
    }

    private init(id: Identifier<Kind>, secret: String) {
        self.id = id
        self.secret = secret
    }

    /// The token of an `Authorization: Bearer <token>` header (scheme case-insensitive, RFC 9110 §11.1);
    /// `nil` when the header is absent, another scheme, or not a token of this kind.
    package init?(authorization: String?) {
        guard let authorization else { return nil }
        let parts = authorization.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else { return nil }
        self.init(parsing: String(parts[1]))
    }

    /// Parses a token of this kind; `nil` for anything else.
    package init?(parsing token: String) {
        let prefix = Kind.prefix
        guard token.hasPrefix(prefix), token.utf8.count == prefix.utf8.count + 32 + 1 + 43 else { return nil }
        let body = token.dropFirst(prefix.count)
        let hex = body.prefix(32)
        guard body.dropFirst(32).first == "_" else { return nil }
        let secret = body.dropFirst(33)
        guard hex.allSatisfy(\.isHexDigit),
            secret.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") })
        else { return nil }
        var uuid = String(hex)
        for index in [8, 13, 18, 23] { uuid.insert("-", at: uuid.index(uuid.startIndex, offsetBy: index)) }
        guard let id = Identifier<Kind>(uuid) else { return nil }
        self.id = id
        self.secret = String(secret)
    }

    /// Whether the secret's hash equals `storedHash`, compared in constant time.
    package func matches(_ storedHash: [UInt8]) -> Bool {
        ConstantTime.equals(storedHash, secretHash)
    }
}

extension EnrollmentTokenTag: SecretTokenKind {
    package static let prefix = "chte_"
}

extension DeviceTag: SecretTokenKind {
    package static let prefix = "chtd_"
}

extension ConnectorTag: SecretTokenKind {
    package static let prefix = "chtk_"
}

/// The token an administrator hands to agents for enrollment.
package typealias EnrollmentTokenSecret = SecretToken<EnrollmentTokenTag>
/// The token a device authenticates with.
package typealias DeviceToken = SecretToken<DeviceTag>
/// The token an on-premises connector authenticates with.
package typealias ConnectorToken = SecretToken<ConnectorTag>

/// Comparison whose duration does not depend on where two byte strings differ.
package enum ConstantTime {
    package static func equals(_ lhs: [UInt8], _ rhs: [UInt8]) -> Bool {
        guard lhs.count == rhs.count else { return false }
        var difference: UInt8 = 0
        for index in lhs.indices { difference |= lhs[index] ^ rhs[index] }
        return difference == 0
    }
}
