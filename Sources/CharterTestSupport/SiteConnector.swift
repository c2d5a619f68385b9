package import Foundation

/// A `charter connector` of a ``ConnectorSite``: its folder with the configuration file, the bind password file
/// and the state directory (its identity), in the keys of `charter connector run --config FILE`:
/// `service_url`, `state_dir`, `name`, `enrollment_token`, `allow_insecure_http`, and under `directory`: `urls`,
/// `base_dn`, `bind_dn`, `password_file`, `tls`, `ca_file`, `allow_plain`.
///
/// Made by ``ConnectorSite/connector(servicePort:enrollmentToken:name:)`` for the site's DC over LDAPS and the
/// service on the host's end of the veth pair; a test changes what it needs before
/// ``ConnectorSite/startConnector(_:executable:environment:)``. Starting it again with the same folder keeps
/// its state (a restarted connector); ``remove()`` deletes the folder.
package struct SiteConnector: Sendable, Encodable {
    package var folder: URL
    package var serviceURL: String
    package var name: String
    /// Needed by the first start only (it enrolls); later starts use the identity in the state directory.
    package var enrollmentToken: String?
    /// The tests' service listens on plain HTTP on the host's end of the veth pair.
    package var allowInsecureHTTP = true
    package var directory: Directory

    /// The `directory` object of the configuration.
    package struct Directory: Sendable, Encodable {
        package var urls: [String]
        package var baseDN: String
        package var bindDN: String
        /// Written to ``SiteConnector/passwordFile``, never into the configuration.
        package var password: String
        /// `ldaps`, `start_tls` or `plain`.
        package var tls: String
        package var caFile: String?
        /// Needed with `tls` `plain`.
        package var allowPlain: Bool?
        var passwordFile: String

        enum CodingKeys: String, CodingKey {
            case urls
            case baseDN = "base_dn"
            case bindDN = "bind_dn"
            case passwordFile = "password_file"
            case tls
            case caFile = "ca_file"
            case allowPlain = "allow_plain"
        }
    }

    enum CodingKeys: String, CodingKey {
        case serviceURL = "service_url"
        case stateDirectory = "state_dir"
        case name
        case enrollmentToken = "enrollment_token"
        case allowInsecureHTTP = "allow_insecure_http"
        case directory
    }

    package init(folder: URL, serviceURL: String, name: String, enrollmentToken: String?, directory: Directory) {
        self.folder = folder
        self.serviceURL = serviceURL
        self.name = name
        self.enrollmentToken = enrollmentToken
        self.directory = directory
    }

    package var configurationFile: URL { folder.appendingPathComponent("connector.json") }
    package var passwordFile: URL { folder.appendingPathComponent("bind-password") }
    package var stateDirectory: URL { folder.appendingPathComponent("state") }

    package func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(serviceURL, forKey: .serviceURL)
        try container.encode(stateDirectory.path, forKey: .stateDirectory)
        try container.encode(name, forKey: .name)
        try container.encodeIfPresent(enrollmentToken, forKey: .enrollmentToken)
        try container.encode(allowInsecureHTTP, forKey: .allowInsecureHTTP)
        var written = directory
        written.passwordFile = passwordFile.path
        try container.encode(written, forKey: .directory)
    }

    /// Writes the folder: the configuration, the password file (0600) and the state directory (0700; kept when
    /// it exists).
    package func write() throws {
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(
            at: stateDirectory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700]
        )
        guard
            FileManager.default.createFile(
                atPath: passwordFile.path, contents: Data(directory.password.utf8), attributes: [.posixPermissions: 0o600]
            )
        else { throw ConnectorSite.Failure(description: "cannot write \(passwordFile.path)") }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        try encoder.encode(self).write(to: configurationFile)
    }

    /// Deletes the folder (configuration, password, state).
    package func remove() {
        try? FileManager.default.removeItem(at: folder)
    }
}

extension ConnectorSite {
    /// A connector in a new folder (`charter-connector-<random>` in the temporary directory) for the site's DC
    /// (LDAPS to the namespace's 127.0.0.2, the site's CA) and the service at `http://<hostAddress>:<servicePort>`.
    package func connector(servicePort: Int, enrollmentToken: String?, name: String = "Site connector") -> SiteConnector {
        SiteConnector(
            folder: FileManager.default.temporaryDirectory.appendingPathComponent("charter-connector-\(UUID())"),
            serviceURL: "http://\(hostAddress):\(servicePort)",
            name: name,
            enrollmentToken: enrollmentToken,
            directory: .init(
                urls: [ldapsURL], baseDN: baseDN, bindDN: bindDN, password: password, tls: "ldaps", caFile: caFile,
                passwordFile: ""
            )
        )
    }

    /// Writes `connector`'s folder and starts `executable connector run --config <its configuration file>` inside
    /// the site.
    ///
    /// - Parameters:
    ///   - executable: `charter` of this build unless a test gives another.
    ///   - environment: added to the child's environment (`CHARTER_LOG_LEVEL`, …).
    package func startConnector(
        _ connector: SiteConnector, executable: String = ConnectorSite.charterExecutable,
        environment: [String: String] = [:]
    ) throws -> SiteProcess {
        try connector.write()
        return try launch(
            executable, ["connector", "run", "--config", connector.configurationFile.path], environment: environment
        )
    }
}
