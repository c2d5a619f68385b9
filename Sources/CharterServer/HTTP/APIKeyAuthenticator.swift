import CharterBundle
package import CharterCore
import CharterStore
import Crypto
import Foundation
import Hummingbird
import HummingbirdAuth

/// Authenticates `Authorization: Bearer chtr_<key id>_<secret>` against the stored hash of the secret.
///
/// The key id selects the row; the SHA-256 of the presented secret is compared to the stored one in
/// constant time. A malformed, unknown, revoked or expired key leaves the request unauthenticated.
struct APIKeyAuthenticator: AuthenticatorMiddleware {
    typealias Context = AppRequestContext

    let database: Database

    func authenticate(request: Request, context: AppRequestContext) async throws -> Principal? {
        guard let authorization = request.headers[.authorization] else { return nil }
        let parts = authorization.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else { return nil }
        guard let token = APIKeyToken(parsing: String(parts[1])) else { return nil }
        let credential = try await database.readWithoutTenant(logger: context.logger) { tx in
            try await tx.apiKeys.credential(for: token.keyID)
        }
        guard let credential, ConstantTime.equals(credential.secretHash, token.secretHash) else { return nil }
        return credential.principal
    }
}

/// The bearer token of an API key: `chtr_` + the key id (32 hex digits) + `_` + 43 base64url characters.
package struct APIKeyToken: Sendable {
    static let prefix = "chtr_"

    package let keyID: APIKeyID
    let secret: String

    /// SHA-256 of the secret part, as stored.
    package var secretHash: [UInt8] { Array(SHA256.hash(data: Data(secret.utf8))) }

    /// The full bearer token.
    package var string: String {
        Self.prefix + keyID.rawValue.uuidString.replacingOccurrences(of: "-", with: "").lowercased() + "_" + secret
    }

    /// A new key: a random id and 256 random bits of secret.
    package static func generate() -> APIKeyToken {
        let secret = SymmetricKey(size: .bits256).withUnsafeBytes { Base64URL.encode($0) }
        return APIKeyToken(keyID: .random(), secret: secret)
    }

    private init(keyID: APIKeyID, secret: String) {
        self.keyID = keyID
        self.secret = secret
    }

    init?(parsing token: String) {
        guard token.hasPrefix(Self.prefix), token.utf8.count == Self.prefix.utf8.count + 32 + 1 + 43 else { return nil }
        let body = token.dropFirst(Self.prefix.count)
        let hex = body.prefix(32)
        guard body.dropFirst(32).first == "_" else { return nil }
        let secret = body.dropFirst(33)
        guard hex.allSatisfy(\.isHexDigit),
            secret.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") })
        else { return nil }
        var uuid = String(hex)
        for index in [8, 13, 18, 23] { uuid.insert("-", at: uuid.index(uuid.startIndex, offsetBy: index)) }
        guard let id = APIKeyID(uuid) else { return nil }
        self.keyID = id
        self.secret = String(secret)
    }
}

/// Comparison whose duration does not depend on where two byte strings differ.
enum ConstantTime {
    static func equals(_ lhs: [UInt8], _ rhs: [UInt8]) -> Bool {
        guard lhs.count == rhs.count else { return false }
        var difference: UInt8 = 0
        for index in lhs.indices { difference |= lhs[index] ^ rhs[index] }
        return difference == 0
    }
}
