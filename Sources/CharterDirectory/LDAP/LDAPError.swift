package import CharterCore
import CLDAP

/// A failed LDAP operation: the result code, what the server said, and where.
///
/// Server results (`code > 0`) carry the server's diagnostic message, e.g. Active Directory's
/// `80090308: LdapErr: DSID-0C09044E, comment: AcceptSecurityContext error, data 52e` for a bad
/// password; client-side failures (`code < 0`: server down, timeout, connect error) carry
/// libldap's explanation.
package struct LDAPError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The LDAP result code (RFC 4511) or a negative libldap client code.
    package var code: Code
    /// The operation that failed, such as `bind` or `search`.
    package var operation: String
    /// The server's diagnostic message (or libldap's), empty when there was none.
    package var diagnosticMessage: String
    /// The matched DN of a `noSuchObject` result, empty otherwise.
    package var matchedDN: String
    /// The URL of the server that answered, when known.
    package var url: String?
    /// Set when the connection failed because every address of the URL was refused by the configuration's
    /// ``LDAPConfiguration/destinations``.
    package var refusal: OutboundRefusal?

    package init(
        code: Code, operation: String, diagnosticMessage: String = "", matchedDN: String = "", url: String? = nil,
        refusal: OutboundRefusal? = nil
    ) {
        self.code = code
        self.operation = operation
        self.diagnosticMessage = diagnosticMessage
        self.matchedDN = matchedDN
        self.url = url
        self.refusal = refusal
    }

    package var description: String {
        if let refusal { return "LDAP \(operation) failed: \(refusal)" + (url.map { " [\($0)]" } ?? "") }
        var text = "LDAP \(operation) failed: \(code)"
        if !diagnosticMessage.isEmpty { text += " (\(diagnosticMessage))" }
        if !matchedDN.isEmpty { text += ", matched DN \(matchedDN)" }
        if let url { text += " [\(url)]" }
        return text
    }

    /// Whether the failure was the client's connection (no server answer), so another URL may succeed.
    package var isConnectionFailure: Bool {
        [.serverDown, .timeout, .connectError, .timeLimitExceeded].contains(code) || code.rawValue == LDAP_UNAVAILABLE
    }

    /// An LDAP result code.
    package struct Code: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
        package var rawValue: Int32
        package init(rawValue: Int32) { self.rawValue = rawValue }

        package static let success = Code(rawValue: LDAP_SUCCESS)
        package static let timeLimitExceeded = Code(rawValue: LDAP_TIMELIMIT_EXCEEDED)
        package static let sizeLimitExceeded = Code(rawValue: LDAP_SIZELIMIT_EXCEEDED)
        package static let noSuchObject = Code(rawValue: LDAP_NO_SUCH_OBJECT)
        package static let invalidCredentials = Code(rawValue: LDAP_INVALID_CREDENTIALS)
        package static let insufficientAccess = Code(rawValue: LDAP_INSUFFICIENT_ACCESS)
        package static let strongerAuthRequired = Code(rawValue: LDAP_STRONG_AUTH_REQUIRED)
        package static let alreadyExists = Code(rawValue: LDAP_ALREADY_EXISTS)
        package static let serverDown = Code(rawValue: LDAP_SERVER_DOWN)
        package static let timeout = Code(rawValue: LDAP_TIMEOUT)
        package static let connectError = Code(rawValue: LDAP_CONNECT_ERROR)
        package static let decodingError = Code(rawValue: LDAP_DECODING_ERROR)
        package static let parameterError = Code(rawValue: LDAP_PARAM_ERROR)
        package static let other = Code(rawValue: LDAP_OTHER)

        /// libldap's name for the code followed by its number, e.g. `Invalid credentials (49)`.
        package var description: String {
            guard let text = ldap_err2string(rawValue) else { return "LDAP result \(rawValue)" }
            return "\(String(cString: text)) (\(rawValue))"
        }
    }
}
