package import CharterCore
import CharterBundle
import Crypto
import Foundation

extension SessionTag: SecretTokenKind {
    package static let prefix = "chss_"
}

/// The phantom kind of personal tokens: a `chpt_` token names a row of `sessions` of kind `token`.
package enum PersonalTokenTag: SecretTokenKind {
    package static let prefix = "chpt_"
}

/// The `charter_session` cookie's value: `chss_<session id>_<secret>`.
package typealias SessionCookie = SecretToken<SessionTag>

/// A person's bearer token for tools: `chpt_<session id>_<secret>`.
package typealias PersonalToken = SecretToken<PersonalTokenTag>

extension SecretToken where Kind == PersonalTokenTag {
    /// The session row the token names.
    package var sessionID: SessionID { SessionID(id.rawValue) }
}

/// A browser session's CSRF token: 256 random bits in base64url; the store keeps its SHA-256.
package struct CSRFToken: Sendable {
    package let value: String

    package static func generate() -> CSRFToken {
        CSRFToken(value: SymmetricKey(size: .bits256).withUnsafeBytes { Base64URL.encode($0) })
    }

    package var hash: [UInt8] { Self.hash(value) }

    /// SHA-256 of a presented `X-CSRF-Token`.
    package static func hash(_ presented: String) -> [UInt8] {
        Array(SHA256.hash(data: Data(presented.utf8)))
    }
}
