package import PostgresNIO
import Foundation
import NIOSSL

/// Turns a `postgres://` URL into a PostgresNIO client configuration.
///
/// Accepted form: `postgres[ql]://user[:password]@host[:port]/database[?sslmode=...&host=/socket/dir]`.
/// `sslmode` is `disable`, `prefer` (the default) or `require`/`verify-full`; `sslrootcert` names a CA file.
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
        let tls: PostgresClient.Configuration.TLS
        switch query["sslmode"] ?? "prefer" {
        case "disable": tls = .disable
        case "prefer", "allow": tls = .prefer(tlsConfiguration)
        case "require", "verify-ca", "verify-full": tls = .require(tlsConfiguration)
        case let other: throw Invalid(description: "sslmode '\(other)' is not one of disable, prefer, require")
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
}
