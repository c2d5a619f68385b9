package import Configuration
import Foundation
import NIOSSL

/// How Charter reaches its SMTP server to email approvers (docs/requests.md, "Email to approvers").
///
/// ## Configuration keys
/// Email is off unless `smtp.host` is set.
/// - `smtp.host` (string): the SMTP server's host name or IP address.
/// - `smtp.port` (int 1–65535, default `587` for `starttls`, `465` for `tls`, `25` for `none`).
/// - `smtp.tls` (`starttls`, `tls` or `none`; default `starttls`): `starttls` requires the server to offer
///   STARTTLS and upgrades before anything else is sent; `tls` speaks TLS from the first byte (SMTPS); `none`
///   sends everything in the clear and is accepted only for a loopback host (a local relay, tests).
/// - `smtp.ca_file` (path): PEM certificates to verify the server with, instead of the system's trust store.
/// - `smtp.username` (string) with `smtp.password` (string, secret) or `smtp.password_file` (path): credentials
///   for `AUTH PLAIN` (or `AUTH LOGIN` when the server offers only that); both or neither.
/// - `smtp.from` (string, required with `smtp.host`): `approvals@example.com` or
///   `Charter <approvals@example.com>`.
/// - `smtp.helo_name` (string, default this machine's host name): the name Charter gives in `EHLO`.
/// - `smtp.timeout_seconds` (int 1–300, default `30`): the longest wait to connect and for each reply.
/// - `smtp.retry_base_seconds` (int 1–3600, default `30`): the first retry delay of a failed delivery; each
///   further one doubles (at most an hour), 10 attempts in all.
package struct SMTPConfiguration: Sendable {
    /// How the connection is protected (`smtp.tls`).
    package enum Security: String, Sendable, CaseIterable {
        case starttls, tls, none

        /// The port a server of this kind usually listens on.
        package var defaultPort: Int {
            switch self {
            case .starttls: 587
            case .tls: 465
            case .none: 25
            }
        }
    }

    /// A user name and password for SMTP AUTH.
    package struct Credentials: Sendable {
        package var username: String
        package var password: String

        package init(username: String, password: String) {
            self.username = username
            self.password = password
        }
    }

    package var host: String
    package var port: Int
    package var security: Security
    package var caFile: String?
    package var credentials: Credentials?
    package var from: Mailbox
    package var heloName: String = ProcessInfo.processInfo.hostName
    package var timeoutSeconds: Int = 30
    package var retryBaseSeconds: Int = 30

    package init(host: String, security: Security = .starttls, port: Int? = nil, from: Mailbox) {
        self.host = host
        self.security = security
        self.port = port ?? security.defaultPort
        self.from = from
    }

    /// Reads and validates the `smtp.*` keys.
    ///
    /// - Returns: `nil` when `smtp.host` is not set (email is off).
    /// - Throws: ``ConfigurationError`` naming the first key whose value is missing or unacceptable.
    package init?(reader: ConfigReader) throws {
        guard let host = reader.string(forKey: "smtp.host")?.trimmingCharacters(in: .whitespaces), !host.isEmpty else {
            return nil
        }
        guard !host.contains(where: { $0.isWhitespace || $0 == "/" }) else {
            throw ConfigurationError(key: "smtp.host", problem: "must be a host name or IP address, not '\(host)'")
        }
        let securityText = reader.string(forKey: "smtp.tls") ?? Security.starttls.rawValue
        guard let security = Security(rawValue: securityText.lowercased()) else {
            let modes = Security.allCases.map(\.rawValue).joined(separator: ", ")
            throw ConfigurationError(key: "smtp.tls", problem: "must be one of \(modes), not '\(securityText)'")
        }
        if security == .none, !Self.isLoopback(host) {
            throw ConfigurationError(
                key: "smtp.tls",
                problem: "is 'none', which sends mail and credentials in the clear; it is allowed only when "
                    + "smtp.host is a loopback address (127.0.0.1, ::1, localhost), not '\(host)'"
            )
        }
        guard let fromText = reader.string(forKey: "smtp.from") else {
            throw ConfigurationError(
                key: "smtp.from",
                problem: "is required when smtp.host is set (an address such as approvals@example.com)"
            )
        }
        guard let from = Mailbox(parsing: fromText) else {
            throw ConfigurationError(
                key: "smtp.from",
                problem: "must be 'address' or 'Name <address>' with a plain ASCII address, not '\(fromText)'"
            )
        }
        self.init(host: host, security: security, from: from)
        port = try ServerConfiguration.int(reader, "smtp.port", default: security.defaultPort, in: 1...65535)
        timeoutSeconds = try ServerConfiguration.int(
            reader, "smtp.timeout_seconds", default: timeoutSeconds, in: 1...300
        )
        retryBaseSeconds = try ServerConfiguration.int(
            reader, "smtp.retry_base_seconds", default: retryBaseSeconds, in: 1...3600
        )
        if let name = reader.string(forKey: "smtp.helo_name") {
            guard !name.isEmpty, name.utf8.allSatisfy({ (33...126).contains($0) }) else {
                throw ConfigurationError(
                    key: "smtp.helo_name", problem: "must be a host name without spaces, not '\(name)'"
                )
            }
            heloName = name
        }
        credentials = try Self.credentials(reader)
        if let path = reader.string(forKey: "smtp.ca_file") {
            do {
                guard !(try NIOSSLCertificate.fromPEMFile(path)).isEmpty else {
                    throw ConfigurationError(
                        key: "smtp.ca_file", problem: "names '\(path)', which holds no PEM certificate"
                    )
                }
            } catch let error as ConfigurationError {
                throw error
            } catch {
                throw ConfigurationError(
                    key: "smtp.ca_file", problem: "names '\(path)', which cannot be read as PEM certificates"
                )
            }
            caFile = path
        }
    }

    /// The user name and the password from `smtp.password` or `smtp.password_file`: both or neither.
    static func credentials(_ reader: ConfigReader) throws -> Credentials? {
        let username = reader.string(forKey: "smtp.username")
        var password = reader.string(forKey: "smtp.password", isSecret: true)
        if password == nil, let path = reader.string(forKey: "smtp.password_file") {
            guard let contents = try? String(contentsOfFile: path, encoding: .utf8) else {
                throw ConfigurationError(key: "smtp.password_file", problem: "names '\(path)', which cannot be read")
            }
            // A file usually ends in a newline that is not part of the password.
            var text = contents
            while text.last?.isNewline == true { text.removeLast() }
            password = text
        }
        switch (username, password) {
        case (nil, nil):
            return nil
        case (let username?, let password?) where !username.isEmpty && !password.isEmpty:
            return Credentials(username: username, password: password)
        case (nil, _), ("", _):
            throw ConfigurationError(key: "smtp.username", problem: "is required when a password is set")
        default:
            throw ConfigurationError(
                key: "smtp.password", problem: "is required when smtp.username is set (or smtp.password_file)"
            )
        }
    }

    /// Whether `host` names this machine: `localhost`, `::1` or an IPv4 address in 127.0.0.0/8.
    static func isLoopback(_ host: String) -> Bool {
        if ["localhost", "::1"].contains(host.lowercased()) { return true }
        let octets = host.split(separator: ".", omittingEmptySubsequences: false)
        return octets.count == 4 && octets.first == "127" && octets.allSatisfy { UInt8($0) != nil }
    }
}

