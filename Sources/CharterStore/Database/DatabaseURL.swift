package import PostgresNIO
import Foundation
import NIOSSL

/// Turns a `postgres://` URL into a PostgresNIO client configuration.
///
/// Accepted form: `postgres[ql]://user[:password]@host[:port]/database[?sslmode=...&host=/socket/dir]`.
/// `sslmode` is `disable`, `prefer` or `require`/`verify-ca`/`verify-full` (all three verify the certificate and
/// the host name); without it, a loopback host gets `prefer` and any other host `verify-full`
/// (see ``tlsMode(sslmode:host:)``). `sslrootcert` names a CA file.
/// A `host` query parameter that is a path selects a Unix socket in that directory, as libpq does.
/// `application_name` names the connections in `pg_stat_activity` (default `charter`).
package enum DatabaseURL {
    /// The `application_name` of connections whose URL names none.
    package static let defaultApplicationName = "charter"

    /// Why a database URL was refused; the message never contains the password.
    package struct Invalid: Error, CustomStringConvertible, Sendable {
        package var description: String
    }

    package static func configuration(from string: String) throws(Invalid) -> PostgresClient.Configuration {
        guard let components = URLComponents(string: string),
            let scheme = components.scheme, scheme == "postgres" || scheme == "postgresql"
        else {
            throw Invalid(description: "not a postgres:// URL")
        }
        guard let user = components.user.flatMap({ $0.removingPercentEncoding ?? $0 }), !user.isEmpty else {
            throw Invalid(description: "the URL names no user")
        }
        let password = components.password.map { $0.removingPercentEncoding ?? $0 }
        let path = components.path.hasPrefix("/") ? String(components.path.dropFirst()) : components.path
        let database = path.isEmpty ? user : (path.removingPercentEncoding ?? path)
        let query = Dictionary(
            (components.queryItems ?? []).map { ($0.name, $0.value ?? "") },
            uniquingKeysWith: { _, last in last }
        )

        let applicationName = query["application_name"] ?? defaultApplicationName
        guard applicationName.utf8.count <= 63, applicationName.unicodeScalars.allSatisfy({ (0x20...0x7E).contains($0.value) })
        else {
            throw Invalid(description: "application_name must be at most 63 printable ASCII characters")
        }
        var configuration = try configuration(
            query: query, user: user, password: password, database: database, host: components.host,
            port: components.port
        )
        configuration.options.additionalStartupParameters.append(("application_name", applicationName))
        return configuration
    }

    private static func configuration(
        query: [String: String], user: String, password: String?, database: String, host: String?, port: Int?
    ) throws(Invalid) -> PostgresClient.Configuration {
        if let socketDirectory = query["host"], socketDirectory.hasPrefix("/") {
            return PostgresClient.Configuration(
                unixSocketPath: "\(socketDirectory)/.s.PGSQL.\(port ?? 5432)",
                username: user,
                password: password,
                database: database
            )
        }
        guard let host, !host.isEmpty else {
            throw Invalid(description: "the URL names no host")
        }
        var tlsConfiguration = TLSConfiguration.makeClientConfiguration()
        if let rootCert = query["sslrootcert"] {
            tlsConfiguration.trustRoots = .file(rootCert)
        }
        let tls: PostgresClient.Configuration.TLS =
            switch try tlsMode(sslmode: query["sslmode"], host: host) {
            case .disable: .disable
            case .prefer: .prefer(tlsConfiguration)
            case .verifyFull: .require(tlsConfiguration)
            }
        return PostgresClient.Configuration(
            host: host.trimmingCharacters(in: CharacterSet(charactersIn: "[]")),
            port: port ?? 5432,
            username: user,
            password: password,
            database: database,
            tls: tls
        )
    }

    /// How a connection uses TLS.
    package enum TLSMode: Hashable, Sendable {
        /// Plain TCP.
        case disable
        /// TLS when the server offers it, plain otherwise.
        case prefer
        /// TLS required; the certificate chain and the host name are verified.
        case verifyFull
    }

    /// The TLS mode of a URL's `sslmode` for `host`.
    ///
    /// Without `sslmode`, a loopback host (``isLoopback(_:)``) keeps `prefer`, so a database on the same machine
    /// works without certificates, and any other host gets `verify-full`: a database across a network is
    /// reached only over TLS to a verified server unless the URL says `sslmode=disable` (or `prefer`).
    /// `require` and `verify-ca` verify like `verify-full`, stricter than libpq.
    ///
    /// - Throws: ``Invalid`` for an unknown `sslmode`.
    package static func tlsMode(sslmode: String?, host: String) throws(Invalid) -> TLSMode {
        switch sslmode ?? (isLoopback(host) ? "prefer" : "verify-full") {
        case "disable": return .disable
        case "prefer", "allow": return .prefer
        case "require", "verify-ca", "verify-full": return .verifyFull
        case let other:
            throw Invalid(description: "sslmode '\(other)' is not one of disable, allow, prefer, require, verify-ca, verify-full")
        }
    }

    /// Whether `host` (a name or an address, IPv6 with or without brackets) is this machine's loopback:
    /// `localhost` and names under it, 127.0.0.0/8, `::1`, and 127.0.0.0/8 mapped into IPv6.
    package static func isLoopback(_ host: String) -> Bool {
        let name = host.lowercased().trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
        if name == "localhost" || name.hasSuffix(".localhost") { return true }
        if let octets = ipv4(name) { return octets[0] == 127 }
        guard let groups = ipv6(name) else { return false }
        if groups == [0, 0, 0, 0, 0, 0, 0, 1] { return true }
        return groups.prefix(5).allSatisfy { $0 == 0 } && groups[5] == 0xFFFF && groups[6] >> 8 == 127
    }

    private static func ipv4(_ text: some StringProtocol) -> [UInt8]? {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        let octets = parts.compactMap { part in
            part.count <= 3 && part.allSatisfy({ $0.isASCII && $0.isNumber }) ? UInt8(part) : nil
        }
        return octets.count == 4 ? octets : nil
    }

    /// The eight 16-bit groups of an IPv6 address in text form (with `::` and a trailing dotted quad).
    private static func ipv6(_ text: String) -> [UInt16]? {
        guard text.contains(":") else { return nil }
        var groups: [[UInt16]] = []
        let halves = text.components(separatedBy: "::")
        guard halves.count <= 2 else { return nil }
        for half in halves {
            var parsed: [UInt16] = []
            for part in half.split(separator: ":", omittingEmptySubsequences: false) where !half.isEmpty {
                if part.contains("."), let octets = ipv4(part) {
                    parsed.append(UInt16(octets[0]) << 8 | UInt16(octets[1]))
                    parsed.append(UInt16(octets[2]) << 8 | UInt16(octets[3]))
                } else if (1...4).contains(part.count), part.allSatisfy({ $0.isASCII && $0.isHexDigit }),
                    let group = UInt16(part, radix: 16)
                {
                    parsed.append(group)
                } else {
                    return nil
                }
            }
            groups.append(parsed)
        }
        if groups.count == 1 { return groups[0].count == 8 ? groups[0] : nil }
        let missing = 8 - groups[0].count - groups[1].count
        guard missing >= 1 else { return nil }
        return groups[0] + Array(repeating: 0, count: missing) + groups[1]
    }
}
