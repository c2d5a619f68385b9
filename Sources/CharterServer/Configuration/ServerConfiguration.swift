import CharterBundle
package import CharterCore
package import Configuration
import SystemPackage
import Foundation
package import Logging

/// Everything `charter serve` needs, read once at start and validated.
///
/// ## Configuration keys
/// Environment variables take the `CHARTER_` prefix (`http.port` → `CHARTER_HTTP_PORT`); a JSON file given with
/// `--config` or `CHARTER_CONFIG_FILE` uses the keys as nested objects (`{"http": {"port": 8080}}`). Options on
/// the command line win over the environment, which wins over the file.
/// - `http.host` (string, default `127.0.0.1`): address to listen on.
/// - `http.port` (int 1–65535, default `8080`).
/// - `http.max_body_bytes` (int ≥ 1024, default `1048576`): larger request bodies get 413.
/// - `http.public_url` (string, default none): the service's URL as browsers reach it (`https://charter.example`),
///   the base of the OpenID Connect redirect URI (`/v1/auth/callback`); session cookies are `Secure` when it is
///   https. Without it people cannot sign in (docs/identity.md).
/// - `identity.allow_insecure_http` (bool, default `false`): accept an `http://` issuer on a loopback host
///   (tests; a provider on the same host). Discovery, the JWKS and the token exchange go through the outbound
///   policy like webhooks, so a loopback provider also needs `outbound.allowed_cidrs`.
/// - `database.url` (string, required, secret): `postgres://` URL of the service role (not the schema owner).
/// - `database.migration_url` (string, secret, default `database.url`): URL of the schema owner, for migrations.
/// - `database.pool_size` (int 1–500, default `20`): connections per process.
/// - `database.listen_url` (string, secret, default `database.url`): URL of the service role for the change
///   feed's `LISTEN`, one session connection per process held for as long as it runs; set it to reach
///   PostgreSQL directly when `database.url` goes through a pooler in transaction mode (docs/deployment.md).
/// - `log.level` (`trace`…`critical`, default `info`).
/// - `shutdown.grace_seconds` (int 0–3600, default `25`): how long in-flight requests may take after SIGTERM.
/// - `shutdown.drain_seconds` (int 0–600, default `15`): after SIGTERM, readiness fails and the agents' event
///   streams are closed spread over this window (each told to reconnect after a jittered delay) before the
///   HTTP server stops.
/// - `requests.expiry_poll_seconds` (int 1–3600, default `15`): how often pending requests past their lifetime
///   are expired (any replica may; each request expires once).
/// - `audit.verify_interval_seconds` (int 0–86400, default `60`): how often every tenant's audit chain is verified
///   from where the last verification stopped (the MSP overview shows the outcome); `0` turns it off in this process.
/// - `audit.verify_max_events` (int 100–1000000, default `10000`): the most events of one tenant one pass verifies.
/// - `overview.max_age_seconds` (int 0–300, default `30`): how old the MSP overview's figures may be when an
///   MSP-wide caller reads them (docs/operations-overview.md, "How it is read"); `0` reads them for every request.
/// - `webhooks.retry_base_seconds` (int 1–3600, default `10`): the first retry delay of a failed webhook
///   delivery; each further one doubles (at most an hour), 10 attempts in all.
/// - `webhooks.timeout_seconds` (int 1–120, default `10`): one deadline over a delivery's DNS lookup, connect,
///   TLS, request, response headers and body.
/// - `outbound.allowed_cidrs` (list of CIDRs, comma-separated in the environment, default none): networks that
///   webhook receivers and directory servers may be on although the outbound policy refuses them by default
///   (loopback, link-local, private, CGNAT, multicast, the service's own addresses); see docs/operations.md.
/// - `kek` (string, secret): key-encryption keys that seal secrets at rest (directory bind passwords), in
///   SecretSealer's form `kid:base64key[,kid:base64key...]`, the first one active. Without it (and without
///   `kek_file`) directory connections cannot be created or synced.
/// - `kek_file` (string): a file holding the `kek` value instead.
/// - `directory.sync.poll_seconds` (int 0–3600, default `30`): how often the scheduler looks for due directory
///   syncs; `0` turns the scheduler off in this process.
/// - `directory.sync.lease_seconds` (int 30–86400, default `300`): how long a claimed sync is held before another
///   replica may take it over; renewed every third of it while the sync runs.
/// - Limits (HTTP timeouts, sync bounds, rate limits, quotas): the keys are listed on ``LimitsConfiguration``.
/// - `agent.device_token_seconds` (int 300–2592000, default `86400`): how long a device token works; agents
///   renew it with a signature by the device key before then (docs/agent-protocol.md, "Device tokens").
/// - `connector.token_seconds` (int 300–2592000, default `86400`): how long a connector token works; connectors
///   renew it with a signature by their key before then (docs/connector-protocol.md, "Identity").
/// - `connector.lease_seconds` (int 2–3600, default `30`): how long a connector's heartbeat keeps it the active
///   connector of the directory connections it serves; another connector takes over once it has run out.
/// - `connector.heartbeat_seconds` (int 1–3600, default `10`): how often connectors are told to heartbeat.
/// - `session.idle_minutes` (int 1–1440, default `60`): a person's browser session unused this long ends.
/// - `session.absolute_hours` (int 1–720, default `12`): a browser session ends this long after sign-in.
/// - `session.token_minutes` (int 1–1440, default `60`): how long a personal token (`chpt_`) works, never beyond
///   the session it was taken from (docs/identity.md).
/// - `session.refresh_interval_seconds` (int 60–86400, default `900`): how often a browser session whose sign-in
///   brought a refresh token asks the identity provider again for the person's groups (docs/identity.md,
///   "Refreshing sessions").
/// - `smtp.*`: the SMTP server approvers are emailed through; email is off without `smtp.host`. The keys are listed
///   on ``SMTPConfiguration``; `smtp.password` is secret.
package struct ServerConfiguration: Sendable {
    package var host: String = "127.0.0.1"
    package var port: Int = 8080
    package var maxBodyBytes: Int = 1 << 20
    package var publicURL: String?
    package var identityAllowsInsecureHTTP = false
    package var databaseURL: String
    package var migrationDatabaseURL: String?
    package var listenDatabaseURL: String?
    package var poolSize: Int = 20
    package var logLevel: Logger.Level = .info
    package var shutdownGraceSeconds: Int = 25
    package var shutdownDrainSeconds: Int = 15
    package var requestExpiryPollSeconds: Int = 15
    package var auditVerifyIntervalSeconds: Int = 60
    package var auditVerifyMaxEvents: Int = 10_000
    package var overviewMaxAgeSeconds: Int = 30
    package var webhookRetryBaseSeconds: Int = 10
    package var webhookTimeoutSeconds: Int = 10
    /// Networks tenant-named destinations may be on although the outbound policy refuses them by default.
    package var outboundAllowedNetworks: [IPNetwork] = []
    /// SecretSealer's configuration (`kid:base64key,...`), validated; `nil` when none was given.
    package var kek: String?
    package var directorySyncPollSeconds: Int = 30
    package var directorySyncLeaseSeconds: Int = 300
    /// The SMTP server approvers are emailed through; `nil` when `smtp.host` is not set (email is off).
    package var smtp: SMTPConfiguration?
    package var limits = LimitsConfiguration()
    package var deviceTokenSeconds: Int = 86_400
    package var connectorTokenSeconds: Int = 86_400
    package var connectorLeaseSeconds: Int = 30
    package var connectorHeartbeatSeconds: Int = 10
    package var sessionIdleMinutes: Int = 60
    package var sessionAbsoluteHours: Int = 12
    package var sessionTokenMinutes: Int = 60
    package var sessionRefreshIntervalSeconds: Int = 900

    package init(databaseURL: String) {
        self.databaseURL = databaseURL
    }

    /// Reads and validates every key.
    ///
    /// - Throws: ``ConfigurationError`` naming the first key whose value is missing or unacceptable.
    package init(reader: ConfigReader) throws {
        guard let url = reader.string(forKey: "database.url", isSecret: true), !url.isEmpty else {
            throw ConfigurationError(key: "database.url", problem: "is required (a postgres:// URL)")
        }
        self.init(databaseURL: url)
        migrationDatabaseURL = reader.string(forKey: "database.migration_url", isSecret: true)
        listenDatabaseURL = reader.string(forKey: "database.listen_url", isSecret: true)
        host = reader.string(forKey: "http.host", default: host)
        port = try Self.int(reader, "http.port", default: port, in: 1...65535)
        maxBodyBytes = try Self.int(reader, "http.max_body_bytes", default: maxBodyBytes, in: 1024...(64 << 20))
        publicURL = try Self.publicURL(reader)
        identityAllowsInsecureHTTP = try Self.bool(reader, "identity.allow_insecure_http", default: false)
        poolSize = try Self.int(reader, "database.pool_size", default: poolSize, in: 1...500)
        shutdownGraceSeconds = try Self.int(reader, "shutdown.grace_seconds", default: shutdownGraceSeconds, in: 0...3600)
        shutdownDrainSeconds = try Self.int(reader, "shutdown.drain_seconds", default: shutdownDrainSeconds, in: 0...600)
        requestExpiryPollSeconds = try Self.int(
            reader, "requests.expiry_poll_seconds", default: requestExpiryPollSeconds, in: 1...3600
        )
        auditVerifyIntervalSeconds = try Self.int(
            reader, "audit.verify_interval_seconds", default: auditVerifyIntervalSeconds, in: 0...86400
        )
        auditVerifyMaxEvents = try Self.int(
            reader, "audit.verify_max_events", default: auditVerifyMaxEvents, in: 100...1_000_000
        )
        overviewMaxAgeSeconds = try Self.int(
            reader, "overview.max_age_seconds", default: overviewMaxAgeSeconds, in: 0...300
        )
        webhookRetryBaseSeconds = try Self.int(
            reader, "webhooks.retry_base_seconds", default: webhookRetryBaseSeconds, in: 1...3600
        )
        webhookTimeoutSeconds = try Self.int(reader, "webhooks.timeout_seconds", default: webhookTimeoutSeconds, in: 1...120)
        outboundAllowedNetworks = try Self.networks(reader, "outbound.allowed_cidrs")
        logLevel = try Self.logLevel(reader)
        kek = try Self.kek(reader)
        directorySyncPollSeconds = try Self.int(
            reader, "directory.sync.poll_seconds", default: directorySyncPollSeconds, in: 0...3600
        )
        directorySyncLeaseSeconds = try Self.int(
            reader, "directory.sync.lease_seconds", default: directorySyncLeaseSeconds, in: 30...86400
        )
        smtp = try SMTPConfiguration(reader: reader)
        limits = try LimitsConfiguration(reader: reader)
        deviceTokenSeconds = try Self.int(reader, "agent.device_token_seconds", default: deviceTokenSeconds, in: 300...2_592_000)
        connectorTokenSeconds = try Self.int(
            reader, "connector.token_seconds", default: connectorTokenSeconds, in: 300...2_592_000
        )
        connectorLeaseSeconds = try Self.int(reader, "connector.lease_seconds", default: connectorLeaseSeconds, in: 2...3600)
        connectorHeartbeatSeconds = try Self.int(
            reader, "connector.heartbeat_seconds", default: connectorHeartbeatSeconds, in: 1...3600
        )
        sessionIdleMinutes = try Self.int(reader, "session.idle_minutes", default: sessionIdleMinutes, in: 1...1440)
        sessionAbsoluteHours = try Self.int(reader, "session.absolute_hours", default: sessionAbsoluteHours, in: 1...720)
        sessionTokenMinutes = try Self.int(reader, "session.token_minutes", default: sessionTokenMinutes, in: 1...1440)
        sessionRefreshIntervalSeconds = try Self.int(
            reader, "session.refresh_interval_seconds", default: sessionRefreshIntervalSeconds, in: 60...86_400
        )
    }

    /// The key-encryption keys from `kek` or `kek_file`, checked by parsing them as SecretSealer does.
    static func kek(_ reader: ConfigReader) throws -> String? {
        var key = "kek"
        var value = reader.string(forKey: "kek", isSecret: true)
        if value == nil, let path = reader.string(forKey: "kek_file") {
            key = "kek_file"
            guard let contents = try? String(contentsOfFile: path, encoding: .utf8) else {
                throw ConfigurationError(key: key, problem: "names '\(path)', which cannot be read")
            }
            value = contents
        }
        guard let raw = value?.trimmingCharacters(in: .whitespacesAndNewlines) else { return nil }
        do {
            _ = try SecretSealer(configuration: raw)
        } catch {
            throw ConfigurationError(key: key, problem: "must be 'kid:base64key[,kid:base64key...]' with 32-byte keys (\(error))")
        }
        return raw
    }

    /// `http.public_url`: an absolute http or https URL without query or fragment, kept without a trailing `/`.
    static func publicURL(_ reader: ConfigReader) throws -> String? {
        guard let raw = reader.string(forKey: "http.public_url")?.trimmingCharacters(in: .whitespaces), !raw.isEmpty
        else { return nil }
        guard let url = URLComponents(string: raw), let scheme = url.scheme?.lowercased(), ["http", "https"].contains(scheme),
            url.host?.isEmpty == false, url.query == nil, url.fragment == nil, url.user == nil
        else {
            throw ConfigurationError(
                key: "http.public_url", problem: "must be an absolute https URL such as https://charter.example, not '\(raw)'"
            )
        }
        return raw.hasSuffix("/") ? String(raw.dropLast()) : raw
    }

    static func bool(_ reader: ConfigReader, _ key: String, default value: Bool) throws -> Bool {
        guard let raw = reader.string(forKey: ConfigKey(key)) ?? reader.bool(forKey: ConfigKey(key)).map(String.init)
        else { return value }
        switch raw.trimmingCharacters(in: .whitespaces).lowercased() {
        case "true", "1", "yes": return true
        case "false", "0", "no": return false
        default: throw ConfigurationError(key: key, problem: "must be true or false, not '\(raw)'")
        }
    }

    static func int(_ reader: ConfigReader, _ key: String, default value: Int, in range: ClosedRange<Int>) throws -> Int {
        // The environment gives strings, a JSON file may give numbers.
        guard let raw = reader.string(forKey: ConfigKey(key)) ?? reader.int(forKey: ConfigKey(key)).map(String.init)
        else { return value }
        guard let parsed = Int(raw.trimmingCharacters(in: .whitespaces)), range.contains(parsed) else {
            throw ConfigurationError(key: key, problem: "must be an integer from \(range.lowerBound) to \(range.upperBound), not '\(raw)'")
        }
        return parsed
    }

    /// A list of CIDR blocks: an array in a file, comma-separated in the environment.
    static func networks(_ reader: ConfigReader, _ key: String) throws -> [IPNetwork] {
        let raw =
            reader.stringArray(forKey: ConfigKey(key))
            ?? reader.string(forKey: ConfigKey(key)).map { $0.split(separator: ",").map(String.init) } ?? []
        return try raw.map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }.map { text in
            guard let network = IPNetwork(text) else {
                throw ConfigurationError(key: key, problem: "must list CIDR blocks such as 10.20.0.0/16 or fd00::/8, not '\(text)'")
            }
            return network
        }
    }

    /// `log.level`, or `defaultLevel` when it is not set (`serve`: info; one-shot commands: warning).
    package static func logLevel(_ reader: ConfigReader, default defaultLevel: Logger.Level = .info) throws
        -> Logger.Level
    {
        guard let raw = reader.string(forKey: "log.level") else { return defaultLevel }
        guard let level = Logger.Level(rawValue: raw.lowercased()) else {
            let levels = Logger.Level.allCases.map(\.rawValue).joined(separator: ", ")
            throw ConfigurationError(key: "log.level", problem: "must be one of \(levels), not '\(raw)'")
        }
        return level
    }
}

/// A configuration value that stops the service from starting; its description is the one line to print.
package struct ConfigurationError: Error, CustomStringConvertible, Sendable {
    package var key: String
    package var problem: String

    package init(key: String, problem: String) {
        self.key = key
        self.problem = problem
    }

    /// Names the key as an operator would set it: `CHARTER_HTTP_PORT` (config key `http.port`).
    package var description: String {
        "configuration: \(ConfigurationSources.environmentName(of: key)) (config key '\(key)') \(problem)"
    }
}

/// Where configuration comes from: the environment (`CHARTER_` prefix) over an optional JSON file.
package enum ConfigurationSources {
    package static func environmentName(of key: String) -> String {
        "CHARTER_" + key.uppercased().replacingOccurrences(of: ".", with: "_")
    }

    /// A reader over the environment and, when given, a JSON file.
    ///
    /// - Throws: ``ConfigurationError`` when the file is missing or not JSON.
    package static func reader(file: String?, environment: [String: String]) async throws -> ConfigReader {
        let env = EnvironmentVariablesProvider(environmentVariables: environment).prefixKeys(with: "charter")
        guard let file = file ?? environment["CHARTER_CONFIG_FILE"] else {
            return ConfigReader(provider: env)
        }
        do {
            let fileProvider = try await FileProvider<JSONSnapshot>(filePath: .init(file))
            return ConfigReader(providers: [env, fileProvider])
        } catch {
            throw ConfigurationError(key: "config_file", problem: "'\(file)' could not be read as a JSON object: \(error)")
        }
    }
}

extension ServerConfiguration {
    /// When people's browser sessions refresh at the identity provider (`session.refresh_interval_seconds`).
    package var sessionRefreshPolicy: SessionRefreshPolicy {
        SessionRefreshPolicy(intervalSeconds: sessionRefreshIntervalSeconds)
    }

    /// The lifetimes of people's sessions and tokens (`session.*`).
    package var sessionLifetime: SessionLifetime {
        SessionLifetime(
            idle: .seconds(sessionIdleMinutes * 60), absolute: .seconds(sessionAbsoluteHours * 3600),
            token: .seconds(sessionTokenMinutes * 60)
        )
    }
}
