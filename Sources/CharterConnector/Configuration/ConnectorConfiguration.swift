package import CharterDirectory
package import Configuration
import Foundation
package import Logging
import SystemPackage

/// Everything `charter connector` needs, read once at start from a JSON file and `CHARTER_CONNECTOR_*`
/// environment variables, and validated (docs/connector.md, "Configure").
///
/// ## Keys
/// The file (`--config`, or `CHARTER_CONNECTOR_CONFIG`) nests the keys as objects (`{"directory": {"urls": […]}}`);
/// the environment names them `CHARTER_CONNECTOR_` + the key in capitals with `_` for `.`
/// (`directory.base_dn` → `CHARTER_CONNECTOR_DIRECTORY_BASE_DN`, lists comma-separated). The environment wins.
/// - `service_url` (string, required): the service's `https://` base URL.
/// - `allow_insecure_http` (bool, default `false`): accept an `http://` service URL on a loopback host (tests).
/// - `state_dir` (string, default `/var/lib/charter-connector`): where the identity and token are kept (mode 0600).
/// - `name` (string 1–200, default the host name): the connector's name in the API.
/// - `enrollment_token` (string, secret) or `enrollment_token_file` (string): used once, when no identity exists.
/// - `directory.urls` (list of 1–10 LDAP URLs, required): domain controllers, tried in order.
/// - `directory.base_dn` (string, required), `directory.bind_dn` (string, required).
/// - `directory.password_file` (string, required): the bind password, read again at each run and check.
/// - `directory.tls` (`ldaps` | `start_tls` | `plain`, default `ldaps`); `plain` needs `directory.allow_plain`.
/// - `directory.allow_plain` (bool, default `false`).
/// - `directory.ca_file` (string, default the system's CA bundle): PEM CA certificates of the DCs.
/// - `directory.page_size` (int 1–1000, default `1000`): entries per LDAP page, and so objects per uploaded page.
/// - `log.level` (`trace`…`critical`, default `info`).
package struct ConnectorConfiguration: Sendable, Hashable {
    /// The service's base URL, without a trailing slash.
    package var serviceURL: String
    package var allowsInsecureHTTP = false
    package var stateDirectory = "/var/lib/charter-connector"
    package var name: String
    /// The enrollment token, when one is configured (`enrollment_token`, or read from `enrollment_token_file`).
    package var enrollmentToken: String?
    package var directory: DirectorySettings
    package var logLevel: Logger.Level = .info

    /// The environment variable naming the configuration file.
    package static let fileVariable = "CHARTER_CONNECTOR_CONFIG"

    /// How to reach the domain controllers.
    package struct DirectorySettings: Sendable, Hashable {
        package var urls: [String]
        package var baseDN: String
        package var bindDN: String
        package var passwordFile: String
        package var transportSecurity: LDAPConfiguration.TransportSecurity = .ldaps
        package var caFile: String?
        package var pageSize = 1000

        package init(urls: [String], baseDN: String, bindDN: String, passwordFile: String) {
            self.urls = urls
            self.baseDN = baseDN
            self.bindDN = bindDN
            self.passwordFile = passwordFile
        }
    }

    package init(serviceURL: String, name: String, directory: DirectorySettings) {
        self.serviceURL = serviceURL
        self.name = name
        self.directory = directory
    }

    /// Reads and validates every key.
    ///
    /// - Parameters:
    ///   - reader: The environment over the file.
    ///   - hostname: The name to use when `name` is not set.
    /// - Throws: ``ConnectorConfigurationError`` naming the first key that is missing or unacceptable.
    package init(reader: ConfigReader, hostname: String) throws(ConnectorConfigurationError) {
        let allowsInsecureHTTP = try Self.bool(reader, "allow_insecure_http")
        let serviceURL = try Self.serviceURL(reader, allowsInsecureHTTP: allowsInsecureHTTP)
        var name = hostname
        if let configured = reader.string(forKey: "name") {
            guard (1...200).contains(configured.count) else {
                throw ConnectorConfigurationError(key: "name", problem: "must be 1 to 200 characters")
            }
            name = configured
        }
        self.init(serviceURL: serviceURL, name: name, directory: try Self.directory(reader))
        self.allowsInsecureHTTP = allowsInsecureHTTP
        if let state = reader.string(forKey: "state_dir") {
            guard state.hasPrefix("/") else {
                throw ConnectorConfigurationError(key: "state_dir", problem: "must be an absolute path, not '\(state)'")
            }
            stateDirectory = state
        }
        enrollmentToken = try Self.enrollmentToken(reader)
        logLevel = try Self.logLevel(reader)
    }

    /// The LDAP settings for `urls` (all configured ones by default) with a password read from the password file.
    ///
    /// The connector runs inside the customer's network and the customer names the DCs, so every address is
    /// allowed (the service's outbound policy does not apply here).
    package func ldapConfiguration(
        password: String, urls: [String]? = nil, connectTimeout: Duration = .seconds(10),
        operationTimeout: Duration = .seconds(120)
    ) -> LDAPConfiguration {
        LDAPConfiguration(
            urls: urls ?? directory.urls, transportSecurity: directory.transportSecurity,
            trustRoots: directory.caFile.map { .pemFile(path: $0) } ?? .system, bindDN: directory.bindDN,
            password: password, connectTimeout: connectTimeout, operationTimeout: operationTimeout,
            destinations: .everywhere
        )
    }

    /// The bind password: the password file's contents without a final line break.
    ///
    /// - Throws: ``ConnectorConfigurationError`` when the file cannot be read or is empty.
    package func readPassword() throws(ConnectorConfigurationError) -> String {
        try Self.secretFile(directory.passwordFile, key: "directory.password_file")
    }

    // MARK: - Readers of single keys

    static func serviceURL(_ reader: ConfigReader, allowsInsecureHTTP: Bool) throws(ConnectorConfigurationError)
        -> String
    {
        guard var url = reader.string(forKey: "service_url"), !url.isEmpty else {
            throw ConnectorConfigurationError(
                key: "service_url", problem: "is required: the service's https:// URL, such as https://charter.example.com"
            )
        }
        while url.hasSuffix("/") { url.removeLast() }
        guard let components = URLComponents(string: url), let host = components.host, !host.isEmpty,
            components.query == nil, components.fragment == nil
        else {
            throw ConnectorConfigurationError(key: "service_url", problem: "must be a URL such as https://charter.example.com, not '\(url)'")
        }
        switch components.scheme?.lowercased() {
        case "https":
            return url
        case "http" where allowsInsecureHTTP:
            guard ["localhost", "::1", "[::1]"].contains(host.lowercased()) || host.hasPrefix("127.") else {
                throw ConnectorConfigurationError(
                    key: "service_url", problem: "may use http:// only on a loopback host (127.0.0.1, ::1, localhost); use https://"
                )
            }
            return url
        case "http":
            throw ConnectorConfigurationError(
                key: "service_url", problem: "must use https:// (the connector sends directory data and its token)"
            )
        default:
            throw ConnectorConfigurationError(key: "service_url", problem: "must be an https:// URL, not '\(url)'")
        }
    }

    static func directory(_ reader: ConfigReader) throws(ConnectorConfigurationError) -> DirectorySettings {
        let urls = (reader.stringArray(forKey: "directory.urls") ?? reader.string(forKey: "directory.urls").map { [$0] } ?? [])
            .flatMap { $0.split(separator: ",") }.map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        guard (1...10).contains(urls.count) else {
            throw ConnectorConfigurationError(
                key: "directory.urls", problem: "must list 1 to 10 LDAP URLs such as ldaps://dc1.corp.example, not \(urls.count)"
            )
        }
        let security = try transportSecurity(reader)
        let scheme = security == .ldaps ? "ldaps://" : "ldap://"
        for url in urls {
            guard url.lowercased().hasPrefix(scheme), url.count <= 2000,
                let host = URLComponents(string: url)?.host, !host.isEmpty
            else {
                throw ConnectorConfigurationError(
                    key: "directory.urls",
                    problem: "has '\(url)': with directory.tls '\(tlsName(security))' every URL must be \(scheme)host[:port]"
                )
            }
        }
        guard let baseDN = nonEmpty(reader, "directory.base_dn") else {
            throw ConnectorConfigurationError(key: "directory.base_dn", problem: "is required: the DN to read under, such as DC=corp,DC=example")
        }
        guard (try? DistinguishedName(baseDN)) != nil else {
            throw ConnectorConfigurationError(key: "directory.base_dn", problem: "is not a DN: '\(baseDN)'")
        }
        guard let bindDN = nonEmpty(reader, "directory.bind_dn") else {
            throw ConnectorConfigurationError(
                key: "directory.bind_dn", problem: "is required: the account to bind as, such as CN=charter-sync,OU=Service,DC=corp,DC=example or charter-sync@corp.example"
            )
        }
        guard let passwordFile = nonEmpty(reader, "directory.password_file") else {
            throw ConnectorConfigurationError(
                key: "directory.password_file", problem: "is required: a file holding the bind DN's password (mode 0600)"
            )
        }
        var settings = DirectorySettings(urls: urls, baseDN: baseDN, bindDN: bindDN, passwordFile: passwordFile)
        settings.transportSecurity = security
        _ = try secretFile(passwordFile, key: "directory.password_file")
        if let caFile = nonEmpty(reader, "directory.ca_file") {
            guard let pem = try? String(contentsOfFile: caFile, encoding: .utf8), pem.contains("-----BEGIN CERTIFICATE-----") else {
                throw ConnectorConfigurationError(key: "directory.ca_file", problem: "names '\(caFile)', which is not a readable PEM certificate file")
            }
            settings.caFile = caFile
        }
        settings.pageSize = try int(reader, "directory.page_size", default: settings.pageSize, in: 1...1000)
        return settings
    }

    static func transportSecurity(_ reader: ConfigReader) throws(ConnectorConfigurationError) -> LDAPConfiguration.TransportSecurity {
        let security: LDAPConfiguration.TransportSecurity
        switch reader.string(forKey: "directory.tls")?.lowercased() {
        case nil, "ldaps": security = .ldaps
        case "start_tls": security = .startTLS
        case "plain": security = .plain
        case let other?:
            throw ConnectorConfigurationError(key: "directory.tls", problem: "must be ldaps, start_tls or plain, not '\(other)'")
        }
        if security == .plain, try !bool(reader, "directory.allow_plain") {
            throw ConnectorConfigurationError(
                key: "directory.tls",
                problem: "is plain, which sends the bind password in clear: use ldaps or start_tls, or set directory.allow_plain to true"
            )
        }
        return security
    }

    static func tlsName(_ security: LDAPConfiguration.TransportSecurity) -> String {
        switch security {
        case .ldaps: "ldaps"
        case .startTLS: "start_tls"
        case .plain: "plain"
        }
    }

    static func enrollmentToken(_ reader: ConfigReader) throws(ConnectorConfigurationError) -> String? {
        let token: String
        let key: String
        if let value = nonEmpty(reader, "enrollment_token", isSecret: true) {
            (token, key) = (value.trimmingCharacters(in: .whitespacesAndNewlines), "enrollment_token")
        } else if let file = nonEmpty(reader, "enrollment_token_file") {
            (token, key) = (try secretFile(file, key: "enrollment_token_file"), "enrollment_token_file")
        } else {
            return nil
        }
        guard token.hasPrefix("chte_") else {
            throw ConnectorConfigurationError(key: key, problem: "must hold a connector enrollment token (chte_…)")
        }
        return token
    }

    static func logLevel(_ reader: ConfigReader) throws(ConnectorConfigurationError) -> Logger.Level {
        guard let raw = reader.string(forKey: "log.level") else { return .info }
        guard let level = Logger.Level(rawValue: raw.lowercased()) else {
            let levels = Logger.Level.allCases.map(\.rawValue).joined(separator: ", ")
            throw ConnectorConfigurationError(key: "log.level", problem: "must be one of \(levels), not '\(raw)'")
        }
        return level
    }

    static func int(_ reader: ConfigReader, _ key: String, default value: Int, in range: ClosedRange<Int>)
        throws(ConnectorConfigurationError) -> Int
    {
        // The environment gives strings, a file may give numbers.
        guard let raw = reader.string(forKey: ConfigKey(key)) ?? reader.int(forKey: ConfigKey(key)).map(String.init)
        else { return value }
        guard let parsed = Int(raw.trimmingCharacters(in: .whitespaces)), range.contains(parsed) else {
            throw ConnectorConfigurationError(
                key: key, problem: "must be an integer from \(range.lowerBound) to \(range.upperBound), not '\(raw)'"
            )
        }
        return parsed
    }

    static func bool(_ reader: ConfigReader, _ key: String) throws(ConnectorConfigurationError) -> Bool {
        if let value = reader.bool(forKey: ConfigKey(key)) { return value }
        guard let raw = reader.string(forKey: ConfigKey(key)) else { return false }
        switch raw.lowercased() {
        case "true", "yes", "1": return true
        case "false", "no", "0": return false
        default: throw ConnectorConfigurationError(key: key, problem: "must be true or false, not '\(raw)'")
        }
    }

    static func nonEmpty(_ reader: ConfigReader, _ key: String, isSecret: Bool = false) -> String? {
        reader.string(forKey: ConfigKey(key), isSecret: isSecret).flatMap { $0.isEmpty ? nil : $0 }
    }

    /// The contents of a file holding one secret, without the final line break.
    static func secretFile(_ path: String, key: String) throws(ConnectorConfigurationError) -> String {
        guard let contents = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw ConnectorConfigurationError(key: key, problem: "names '\(path)', which cannot be read by this user")
        }
        var secret = contents
        while let last = secret.last, last == "\n" || last == "\r" { secret.removeLast() }
        guard !secret.isEmpty else {
            throw ConnectorConfigurationError(key: key, problem: "names '\(path)', which is empty")
        }
        return secret
    }

    // MARK: - Sources

    /// A reader over the `CHARTER_CONNECTOR_*` environment and, when given, a JSON file.
    ///
    /// - Parameters:
    ///   - file: The file from `--config`; `CHARTER_CONNECTOR_CONFIG` when `nil`.
    ///   - environment: The process environment.
    /// - Throws: ``ConnectorConfigurationError`` when the file cannot be read as a JSON object.
    package static func reader(file: String?, environment: [String: String]) async throws(ConnectorConfigurationError)
        -> ConfigReader
    {
        let env = EnvironmentVariablesProvider(environmentVariables: environment).prefixKeys(with: ["charter", "connector"])
        guard let file = file ?? environment[fileVariable] else {
            return ConfigReader(provider: env)
        }
        do {
            let fileProvider = try await FileProvider<JSONSnapshot>(filePath: FilePath(file))
            return ConfigReader(providers: [env, fileProvider])
        } catch {
            throw ConnectorConfigurationError(key: "config", problem: "'\(file)' could not be read as a JSON object: \(error)")
        }
    }

    /// Reads the configuration: ``reader(file:environment:)`` then ``init(reader:hostname:)``.
    package static func load(file: String?, environment: [String: String], hostname: String) async throws(ConnectorConfigurationError)
        -> ConnectorConfiguration
    {
        try ConnectorConfiguration(reader: try await reader(file: file, environment: environment), hostname: hostname)
    }
}

/// A configuration value `charter connector` cannot start with; its description is the one line to print.
package struct ConnectorConfigurationError: Error, Hashable, CustomStringConvertible, Sendable {
    package var key: String
    package var problem: String

    package init(key: String, problem: String) {
        self.key = key
        self.problem = problem
    }

    /// The environment variable that sets `key`.
    package static func environmentName(of key: String) -> String {
        "CHARTER_CONNECTOR_" + key.uppercased().replacingOccurrences(of: ".", with: "_")
    }

    /// Names the key both ways: `connector configuration: 'directory.urls' (CHARTER_CONNECTOR_DIRECTORY_URLS) must …`.
    package var description: String {
        if key == "config" { return "connector configuration: --config/\(ConnectorConfiguration.fileVariable) \(problem)" }
        return "connector configuration: '\(key)' (\(Self.environmentName(of: key))) \(problem)"
    }
}
