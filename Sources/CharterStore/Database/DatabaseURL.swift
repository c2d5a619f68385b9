package import PostgresNIO
import Foundation
import NIOSSL

/// Turns a `postgres://` URL into a PostgresNIO client configuration.
///
/// Accepted form: `postgres[ql]://user[:password]@host[:port]/database[?sslmode=...&host=/socket/dir]`.
/// `sslmode` is `disable`, `prefer` (the default) or `require`/`verify-full`; `sslrootcert` names a CA file.
/// A `host` query parameter that is a path selects a Unix socket in that directory, as libpq does.
package enum DatabaseURL {
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

        if let socketDirectory = query["host"], socketDirectory.hasPrefix("/") {
            let port = components.port ?? 5432
            return PostgresClient.Configuration(
                unixSocketPath: "\(socketDirectory)/.s.PGSQL.\(port)",
                username: user,
                password: password,
                database: database
            )
        }
        guard let host = components.host, !host.isEmpty else {
            throw Invalid(description: "the URL names no host")
        }
        var tlsConfiguration = TLSConfiguration.makeClientConfiguration()
        if let rootCert = query["sslrootcert"] {
            tlsConfiguration.trustRoots = .file(rootCert)
        }
        let tls: PostgresClient.Configuration.TLS
        switch query["sslmode"] ?? "prefer" {
        case "disable": tls = .disable
        case "prefer", "allow": tls = .prefer(tlsConfiguration)
        case "require", "verify-ca", "verify-full": tls = .require(tlsConfiguration)
        case let other: throw Invalid(description: "sslmode '\(other)' is not one of disable, prefer, require")
        }
        return PostgresClient.Configuration(
            host: host.trimmingCharacters(in: CharacterSet(charactersIn: "[]")),
            port: components.port ?? 5432,
            username: user,
            password: password,
            database: database,
            tls: tls
        )
    }
}
