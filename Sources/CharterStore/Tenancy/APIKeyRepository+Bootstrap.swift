package import CharterCore
import Crypto
import Foundation
import PostgresNIO

/// An API key given to the service in its configuration (`bootstrap.api_key`), so that a deployment (a Helm
/// release, a GitOps repository) holds the first owner key before any API call was made.
///
/// The form is the one every key has: `chtr_` + the key id (32 hex digits) + `_` + 43 base64url characters
/// (256 bits of secret).
package struct BootstrapAPIKey: Sendable {
    package let keyID: APIKeyID
    /// SHA-256 of the secret part, as stored and as authentication compares it.
    package let secretHash: [UInt8]

    /// The one-line reason a configured value is not a key; never contains the value.
    package struct Invalid: Error, CustomStringConvertible, Sendable {
        package var description: String
    }

    /// Parses and validates a key.
    ///
    /// - Throws: ``Invalid`` when the value is not `chtr_<32 hex digits>_<43 base64url characters>` encoding
    ///   256 bits.
    package init(parsing raw: String) throws(Invalid) {
        let token = raw.trimmingCharacters(in: .whitespacesAndNewlines)
        let form = "must be chtr_<32 hex digits>_<43 base64url characters> (256 random bits)"
        let prefix = "chtr_"
        guard token.hasPrefix(prefix), token.utf8.count == prefix.utf8.count + 32 + 1 + 43 else {
            throw Invalid(description: form)
        }
        let body = token.utf8.dropFirst(prefix.utf8.count)
        let hex = body.prefix(32)
        let secret = body.dropFirst(33)
        guard body.dropFirst(32).first == UInt8(ascii: "_"),
            hex.allSatisfy({ Self.hexDigits.contains($0) }),
            secret.allSatisfy({ Self.base64URL.contains($0) }),
            // 43 characters carry 258 bits: the last one holds 4 bits of the 32 bytes and 2 zero bits.
            let last = secret.last, let index = Self.base64URL.firstIndex(of: last), index % 4 == 0
        else {
            throw Invalid(description: form)
        }
        var uuid = String(decoding: hex, as: UTF8.self)
        for offset in [8, 13, 18, 23] { uuid.insert("-", at: uuid.index(uuid.startIndex, offsetBy: offset)) }
        guard let id = APIKeyID(uuid) else { throw Invalid(description: form) }
        self.keyID = id
        self.secretHash = Array(SHA256.hash(data: Data(secret)))
    }

    private static let hexDigits = Array("0123456789abcdefABCDEF".utf8)
    private static let base64URL = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)
}

extension APIKeyRepository {
    /// Whether a key with this id exists in any MSP or tenant, revoked or expired ones included.
    ///
    /// Only the schema owner may ask (`charter_private.api_key_exists`, a SECURITY DEFINER function the
    /// service role cannot execute).
    package func exists(_ id: APIKeyID) async throws -> Bool {
        let rows = try await tx.query("SELECT charter_private.api_key_exists(\(id.rawValue))")
        for try await exists in rows.decode(Bool.self) { return exists }
        return false
    }
}

/// What `Database.ensureBootstrapKey(_:mspName:actor:logger:)` (CharterServices) found or did.
package enum BootstrapKeyOutcome: Hashable, Sendable {
    /// A key with the id existed already (made earlier, by another replica, or revoked since): nothing changed.
    case existed
    /// A new MSP with an owner principal holding the key.
    case created(MSPID)
}
