package import CharterCore

/// How to reach and authenticate to a directory: URLs in failover order, transport security,
/// trust roots, bind credentials and timeouts.
package struct LDAPConfiguration: Sendable, Hashable {
    /// How the connection is protected.
    package enum TransportSecurity: String, Sendable, Hashable, CaseIterable {
        /// `ldaps://` URLs: TLS from the first byte (port 636).
        case ldaps
        /// `ldap://` URLs upgraded with the StartTLS extended operation before the bind.
        case startTLS
        /// `ldap://` URLs without TLS; the password crosses the network in clear. Only when explicitly chosen.
        case plain
    }

    /// The certificate authorities that sign the server's certificate.
    package enum TrustRoots: Sendable, Hashable {
        /// The system's CA bundle.
        case system
        /// A PEM file with one or more CA certificates.
        case pemFile(path: String)
        /// PEM text with one or more CA certificates, as a tenant administrator pastes it.
        case pem(String)
    }

    /// Server URLs tried in order until one connects and binds, e.g. `ldaps://dc1.example.com`.
    package var urls: [String]
    package var transportSecurity: TransportSecurity
    package var trustRoots: TrustRoots
    /// Whether the server's certificate chain and host name are verified. On unless a caller turns it off.
    package var verifiesCertificate: Bool
    /// The DN (or `user@domain` UPN, which AD accepts) to bind as; empty for an anonymous bind.
    package var bindDN: String
    package var password: String
    /// The longest a TCP connect (and TLS handshake) may take per URL.
    package var connectTimeout: Duration
    /// The longest any single operation (bind, one page of a search, a write) may take.
    package var operationTimeout: Duration
    /// The addresses libldap may connect to: each address it connects to is checked before TLS or any LDAP
    /// message, so a refused one never sees the bind.
    package var destinations: DestinationPolicy

    package init(
        urls: [String],
        transportSecurity: TransportSecurity = .ldaps,
        trustRoots: TrustRoots = .system,
        verifiesCertificate: Bool = true,
        bindDN: String,
        password: String,
        connectTimeout: Duration = .seconds(10),
        operationTimeout: Duration = .seconds(60),
        destinations: DestinationPolicy
    ) {
        self.urls = urls
        self.transportSecurity = transportSecurity
        self.trustRoots = trustRoots
        self.verifiesCertificate = verifiesCertificate
        self.bindDN = bindDN
        self.password = password
        self.connectTimeout = connectTimeout
        self.operationTimeout = operationTimeout
        self.destinations = destinations
    }

    /// Checks that there is a URL and that every URL's scheme fits the transport security.
    ///
    /// - Throws: `LDAPError` with code `parameterError` naming the offending URL.
    package func validate() throws(LDAPError) {
        guard !urls.isEmpty else {
            throw LDAPError(code: .parameterError, operation: "configure", diagnosticMessage: "no LDAP URL given")
        }
        let scheme = transportSecurity == .ldaps ? "ldaps://" : "ldap://"
        for url in urls where !url.lowercased().hasPrefix(scheme) {
            throw LDAPError(
                code: .parameterError, operation: "configure",
                diagnosticMessage:
                    "URL \(url) does not start with \(scheme) as transport security \(transportSecurity.rawValue) needs"
            )
        }
    }
}

extension Duration {
    /// Whole milliseconds, at least 1, for libldap's timeval options.
    var ldapMilliseconds: Int {
        let (seconds, attoseconds) = components
        return max(1, Int(seconds) * 1000 + Int(attoseconds / 1_000_000_000_000_000))
    }
}
