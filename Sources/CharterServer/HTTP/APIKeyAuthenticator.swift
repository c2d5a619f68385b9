import CharterBundle
package import CharterCore
package import CharterServices
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
        guard let token = APIKeyToken(authorization: request.headers[.authorization]) else { return nil }
        let credential = try await database.readWithoutTenant(logger: context.logger) { tx in
            try await tx.apiKeys.credential(for: token.keyID)
        }
        guard let credential, ConstantTime.equals(credential.secretHash, token.secretHash) else { return nil }
        return credential.principal
    }
}

/// The bearer token of an API key: `chtr_` + the key id (32 hex digits) + `_` + 43 base64url characters.
package typealias APIKeyToken = SecretToken<APIKeyTag>

extension APIKeyTag: SecretTokenKind {
    package static let prefix = "chtr_"
}

extension SecretToken where Kind == APIKeyTag {
    /// The API key's id.
    package var keyID: APIKeyID { id }
}
