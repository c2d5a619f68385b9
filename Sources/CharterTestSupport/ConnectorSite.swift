import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// A customer site of the connector tests (`scripts/connector-site`): a network namespace of its own with a
/// Samba AD DC in it (realm SITE.TEST), joined to the host by a veth pair on a /30. A `charter serve` on the
/// host cannot reach the DC; a process started with ``run(_:environment:)`` or ``launch(_:_:environment:)``
/// runs inside the namespace and reaches both the DC (`ldap(s)://127.0.0.2`, the namespace's own loopback)
/// and a service listening on ``hostAddress``.
///
/// scripts/test starts one site for the whole run and exports it (`CHARTER_TEST_SITE_*`): ``shared``. A test
/// that stops or breaks its site starts one of its own with ``with(_:)``.
package struct ConnectorSite: Sendable {
    package struct Failure: Error, CustomStringConvertible {
        package let description: String
    }

    package static let hint =
        "start the connector site with `scripts/connector-site start /tmp/charter-site && . /tmp/charter-site/env`"

    /// The folder given to `scripts/connector-site start`: the provisioned DC, its TLS files, `env`.
    package let folder: String
    /// The network namespace's name (`ip netns exec <namespace> …`).
    package let namespace: String
    /// The host's end of the veth pair: where a service must listen for the site to reach it.
    package let hostAddress: String
    /// The site's end of the veth pair (nothing listens there: the DC listens on the namespace's loopback).
    package let siteAddress: String
    /// The site DC as seen from inside the namespace.
    package let ldapURL: String
    package let ldapsURL: String
    package let caFile: String
    package let bindDN: String
    package let password: String
    package let baseDN: String

    /// `ip`, which runs commands in the namespace.
    package static let ip = ["/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"].first {
        FileManager.default.isExecutableFile(atPath: $0)
    }

    /// Whether this process can run a site: it is root and has `ip netns`. The site tests are skipped
    /// otherwise (CI runs as root).
    package static var available: Bool { geteuid() == 0 && ip != nil }

    /// `scripts/connector-site`.
    package static var script: String {
        TestEnvironment.repositoryRoot.appendingPathComponent("scripts/connector-site").path
    }

    /// The `charter` executable next to the test bundle (`swift build --build-tests` builds both).
    package static var charterExecutable: String {
        URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("charter").path
    }

    /// The site that scripts/test started, from `CHARTER_TEST_SITE_*`; a run without it fails with the hint.
    package static var shared: ConnectorSite {
        get throws {
            guard let site = ConnectorSite(variables: ProcessInfo.processInfo.environment, prefix: "CHARTER_TEST_SITE")
            else {
                Issue.record("CHARTER_TEST_SITE_* are not set. \(hint)")
                throw Failure(description: "no connector site")
            }
            return site
        }
    }

    /// The site described by the variables `<prefix>_NETNS`, `_HOST_ADDRESS`, … (those of `DIR/env`).
    package init?(variables: [String: String], prefix: String) {
        func value(_ name: String) -> String? { variables["\(prefix)_\(name)"] }
        guard let folder = value("DIR"), let namespace = value("NETNS"), let hostAddress = value("HOST_ADDRESS"),
            let siteAddress = value("ADDRESS"), let ldapURL = value("LDAP_URL"), let ldapsURL = value("LDAPS_URL"),
            let caFile = value("LDAP_CA"), let bindDN = value("LDAP_BIND_DN"), let password = value("LDAP_PASSWORD"),
            let baseDN = value("LDAP_BASE_DN")
        else { return nil }
        self.folder = folder
        self.namespace = namespace
        self.hostAddress = hostAddress
        self.siteAddress = siteAddress
        self.ldapURL = ldapURL
        self.ldapsURL = ldapsURL
        self.caFile = caFile
        self.bindDN = bindDN
        self.password = password
        self.baseDN = baseDN
    }

    /// Starts (or finds running) the site of `folder` and reads the `env` it wrote.
    package static func start(folder: String) async throws -> ConnectorSite {
        try await script("start", folder)
        let text = try String(contentsOfFile: folder + "/env", encoding: .utf8)
        guard let site = ConnectorSite(variables: Self.variables(ofEnvFile: text), prefix: "CHARTER_TEST_SITE") else {
            throw Failure(description: "\(folder)/env does not describe a site:\n\(text)")
        }
        return site
    }

    /// Stops everything running in the site, deletes its namespace and veth pair; a second stop is harmless.
    package func stop() async throws {
        try await Self.script("stop", folder)
    }

    /// Starts a site of its own in a new folder `charter-connector-site-<random>` (scripts/test stops those a hung
    /// run leaves), runs `body` with it, then stops it and removes the folder, also when `body` throws.
    /// Provisioning its DC takes 10–20 s.
    package static func with(_ body: (ConnectorSite) async throws -> Void) async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("charter-connector-site-\(UUID())").path
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let site: ConnectorSite
        do {
            site = try await start(folder: folder)
        } catch {
            try? await script("stop", folder)
            throw error
        }
        do {
            try await body(site)
        } catch {
            try? await site.stop()
            throw error
        }
        try await site.stop()
    }

    private static func script(_ command: String, _ folder: String) async throws {
        let ended = try await ChildProcess.run("/bin/bash", [script, command, folder])
        guard ended.status == 0 else {
            throw Failure(description: "scripts/connector-site \(command) \(folder) failed: \(ended.errorOutput)")
        }
    }

    /// `export NAME=value` lines, the value optionally in single quotes, as scripts/samba-common.sh writes them.
    package static func variables(ofEnvFile text: String) -> [String: String] {
        var variables: [String: String] = [:]
        for line in text.split(separator: "\n") where line.hasPrefix("export ") {
            let assignment = line.dropFirst("export ".count)
            guard let equals = assignment.firstIndex(of: "=") else { continue }
            var value = assignment[assignment.index(after: equals)...]
            if value.count >= 2, value.first == "'", value.last == "'" { value = value.dropFirst().dropLast() }
            variables[String(assignment[..<equals])] = String(value)
        }
        return variables
    }

    /// The `ip netns exec` prefix of a command run in the site.
    private var inNamespace: [String] {
        get throws {
            guard let ip = Self.ip else { throw Failure(description: "ip (iproute2) is not installed") }
            return [ip, "netns", "exec", namespace]
        }
    }

    /// Runs `command` (an executable and its arguments; a bare name is looked up in `PATH`) inside the site to
    /// its end.
    ///
    /// - Parameter environment: added to this process's environment.
    package func run(
        _ command: [String], environment: [String: String] = [:]
    ) async throws -> ChildProcess.Termination {
        let full = try inNamespace + command
        return try await ChildProcess.run(
            full[0], Array(full.dropFirst()),
            environment: ProcessInfo.processInfo.environment.merging(environment) { $1 }
        )
    }

    /// Starts `executable` with `arguments` inside the site and returns at once; the process's output goes to
    /// files in its own folder (``SiteProcess/output``).
    ///
    /// - Parameter environment: the child's environment on top of this process's, without its `CHARTER_*`
    ///   variables (the test run's database URLs are not the child's business).
    package func launch(
        _ executable: String, _ arguments: [String], environment: [String: String] = [:]
    ) throws -> SiteProcess {
        var base = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("CHARTER_") }
        base.merge(environment) { $1 }
        let full = try inNamespace + [executable] + arguments
        return try SiteProcess.start(full, environment: base)
    }

    /// Runs an OpenLDAP client (`ldapsearch`, `ldapmodify`, …) inside the site, bound as the administrator
    /// over LDAPS with the site's CA; `arguments` follow the bind options (`-b base -s base dn`, `-f file`).
    /// `ldapsearch` writes plain LDIF (`-LLL`).
    package func ldap(_ tool: String, _ arguments: [String]) async throws -> ChildProcess.Termination {
        let plain = tool == "ldapsearch" ? ["-LLL"] : []
        return try await run(
            [tool, "-x"] + plain + ["-o", "nettimeout=5", "-H", ldapsURL, "-D", bindDN, "-w", password] + arguments,
            environment: ["LDAPTLS_CACERT": caFile, "LDAPTLS_REQCERT": "demand"]
        )
    }

    /// Creates an OU of its own for one test, named `prefix-<random>`, directly under the site's base DN (tests
    /// share the site's DC as they share the host's).
    package func makeOU(_ prefix: String) async throws -> String {
        let dn = "OU=\(prefix)-\(UUID().uuidString.prefix(8)),\(baseDN)"
        try await modify("dn: \(dn)\nchangetype: add\nobjectClass: organizationalUnit\n")
        return dn
    }

    /// Applies `ldif` (with `changetype`s) to the site DC with `ldapmodify`; a failure throws its output.
    package func modify(_ ldif: String) async throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("charter-site-\(UUID()).ldif")
        try Data(ldif.utf8).write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        let ended = try await ldap("ldapmodify", ["-f", file.path])
        guard ended.status == 0 else {
            throw Failure(description: "ldapmodify in \(namespace) failed: \(ended.errorOutput)")
        }
    }
}
