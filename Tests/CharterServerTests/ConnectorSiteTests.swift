import AsyncHTTPClient
import CharterCore
import CharterDirectory
import Foundation
import Logging
import NIOPosix
import Testing

/// The customer site of the connector tests (scripts/connector-site, ``ConnectorSite``) has the properties the
/// end-to-end connector tests rely on: the site reaches its DC and the service, the service does not reach the DC.
@Suite(
    "Connector site",
    .enabled(if: ConnectorSite.available, "a connector site needs root and `ip netns` (iproute2); CI runs as root")
)
struct ConnectorSiteTests {
    @Test("inside the site, its DC answers LDAPS verified with the site's CA, for the site's own domain")
    func siteReachesItsDC() async throws {
        let site = try ConnectorSite.shared
        let ended = try await site.ldap("ldapsearch", ["-b", "", "-s", "base", "defaultNamingContext"])
        #expect(ended.status == 0, "\(ended.errorOutput)")
        #expect(String(decoding: ended.output, as: UTF8.self).contains("defaultNamingContext: DC=site,DC=test"))
        #expect(site.baseDN == "dc=site,dc=test")
        let ou = try await site.makeOU("site-test")
        let found = try await site.ldap("ldapsearch", ["-b", ou, "-s", "base", "dn"])
        #expect(String(decoding: found.output, as: UTF8.self).lowercased().contains("dn: \(ou.lowercased())"))
        try await site.modify("dn: \(ou)\nchangetype: delete\n")
    }

    @Test("the host's 127.0.0.2 is another DC: another domain and another invocationId than the site's 127.0.0.2")
    func hostLoopbackIsAnotherDC() async throws {
        let site = try ConnectorSite.shared
        let host = TestDirectory()
        let siteDC = try await Self.identity(url: site.ldapURL, bindDN: site.bindDN, password: site.password) {
            try await site.run(["ldapsearch"] + $0)
        }
        let hostDC = try await Self.identity(url: host.url, bindDN: host.bindDN, password: host.password) {
            try await ChildProcess.run("/usr/bin/env", ["ldapsearch"] + $0)
        }
        #expect(siteDC.namingContext.lowercased() == site.baseDN)
        #expect(hostDC.namingContext.lowercased() == host.baseDN.lowercased())
        #expect(siteDC.invocationID != hostDC.invocationID)
        // The site's URL, tried from the host, reaches the host's DC, which does not hold the site's domain.
        let missing = try await ChildProcess.run(
            "/usr/bin/env",
            ["ldapsearch", "-x", "-LLL", "-H", site.ldapURL, "-D", host.bindDN, "-w", host.password, "-b", site.baseDN, "-s", "base", "dn"]
        )
        #expect(missing.status != 0)
    }

    @Test("from the host, the site's end of the veth pair refuses LDAP and LDAPS, even with the address allowed")
    func hostCannotReachSite() async throws {
        let site = try ConnectorSite.shared
        let allowed = DestinationPolicy(allowedNetworks: [try #require(IPNetwork("\(site.siteAddress)/32"))])
        for (security, url) in [(LDAPConfiguration.TransportSecurity.plain, "ldap://"), (.ldaps, "ldaps://")] {
            let configuration = LDAPConfiguration(
                urls: [url + site.siteAddress], transportSecurity: security, trustRoots: .pemFile(path: site.caFile),
                bindDN: site.bindDN, password: site.password, connectTimeout: .seconds(3), operationTimeout: .seconds(3),
                destinations: allowed
            )
            let error = await #expect(throws: LDAPError.self) {
                _ = try await LDAPConnection.connect(configuration, threadPool: .ldap, logger: Logger(label: "charter.site.tests"))
            }
            #expect(error?.isConnectionFailure == true, "\(url)\(site.siteAddress): \(String(describing: error))")
        }
    }

    @Test("the site routes nothing but its /30 to the host: no default route, nothing beyond")
    func siteRoutesOnlyToTheHost() async throws {
        let site = try ConnectorSite.shared
        let routes = try await site.run(["ip", "-4", "route", "show"])
        let lines = String(decoding: routes.output, as: UTF8.self).split(separator: "\n")
        #expect(lines.count == 1, "\(lines)")
        #expect(lines.first?.contains("src \(site.siteAddress)") == true)
        #expect(lines.first?.contains("/30") == true)
        let beyond = try await site.run(["ip", "-4", "route", "get", "192.0.2.1"])
        #expect(beyond.status != 0)
        #expect(beyond.errorOutput.contains("unreachable"))
    }

    @Test("a charter serve on the host's end of the veth pair answers the site")
    func siteReachesTheService() async throws {
        let site = try ConnectorSite.shared
        try await TestDatabase.withOwner { _ in }  // migrated, as `charter serve` needs it
        let http = HTTPClient(eventLoopGroupProvider: .singleton)
        do {
            let service = try await ServeProcess.start(host: site.hostAddress, http: http)
            let fetched = try await site.run(
                ["curl", "-sS", "--max-time", "10", "-o", "/dev/null", "-w", "%{http_code}", service.baseURL + "/healthz"]
            )
            #expect(fetched.status == 0, "\(fetched.errorOutput)")
            #expect(String(decoding: fetched.output, as: UTF8.self) == "200")
            #expect(try await service.terminate() == 0)
        } catch {
            try await http.shutdown()
            throw error
        }
        try await http.shutdown()
    }

    @Test("a launched process runs in the site's namespace, as itself, and its output is collected")
    func launchRunsInTheSite() async throws {
        let site = try ConnectorSite.shared
        let process = try site.launch("/bin/sh", ["-c", "readlink /proc/self/ns/net; echo to-stderr >&2"])
        let ended = try #require(await process.ended(within: .seconds(30)))
        #expect(ended == .init(code: 0, signalled: false))
        let namespace = try FileManager.default.attributesOfItem(atPath: "/run/netns/\(site.namespace)")
        let inode = try #require(namespace[.systemFileNumber] as? Int)
        #expect(process.output == "net:[\(inode)]\n")
        let hostNamespace = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/ns/net")
        #expect(process.output != hostNamespace + "\n")
        #expect(process.errorOutput == "to-stderr\n")
    }

    @Test("a launched process can be killed mid-work and stopped politely")
    func launchedProcessStops() async throws {
        let site = try ConnectorSite.shared
        let ip = try #require(ConnectorSite.ip)
        let stops: [(signal: Int32, stop: (SiteProcess) async -> SiteProcess.Ending?)] = [
            (SIGKILL, { await $0.kill() }), (SIGTERM, { await $0.terminate() }),
        ]
        for (signal, stop) in stops {
            let process = try site.launch("/bin/sleep", ["600"])
            #expect(process.isRunning)
            let pids = try await ChildProcess.run(ip, ["netns", "pids", site.namespace])
            #expect(String(decoding: pids.output, as: UTF8.self).split(separator: "\n").contains("\(process.pid)"))
            #expect(await stop(process) == .init(code: signal, signalled: true))
            #expect(!process.isRunning)
        }
    }

    @Test("a connector starts as `<executable> connector run --config FILE` in the site, with the documented keys")
    func connectorLaunch() async throws {
        let site = try ConnectorSite.shared
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("charter-fake-connector-\(UUID())")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        // Stands in for `charter`: prints its arguments, its configuration and whether the site DC answers it.
        let fake = folder.appendingPathComponent("charter")
        try Self.writeExecutable(
            fake.path,
            """
            #!/bin/sh
            echo "$@" >&2
            cat "$4"
            LDAPTLS_CACERT="\(site.caFile)" ldapsearch -x -LLL -H "\(site.ldapsURL)" -b "" -s base dn >/dev/null \
                && echo "dc answers" >&2
            """
        )

        let connector = site.connector(servicePort: 8443, enrollmentToken: "chte_token", name: "Site A connector 1")
        defer { connector.remove() }
        let process = try site.startConnector(connector, executable: fake.path)
        #expect(try #require(await process.ended(within: .seconds(30))) == .init(code: 0, signalled: false))
        #expect(process.errorOutput == "connector run --config \(connector.configurationFile.path)\ndc answers\n")

        let json = try #require(try JSONSerialization.jsonObject(with: Data(process.output.utf8)) as? [String: Any])
        #expect(json["service_url"] as? String == "http://\(site.hostAddress):8443")
        #expect(json["state_dir"] as? String == connector.stateDirectory.path)
        #expect(json["name"] as? String == "Site A connector 1")
        #expect(json["enrollment_token"] as? String == "chte_token")
        #expect(json["allow_insecure_http"] as? Bool == true)
        let directory = try #require(json["directory"] as? [String: Any])
        #expect(directory["urls"] as? [String] == [site.ldapsURL])
        #expect(directory["base_dn"] as? String == site.baseDN)
        #expect(directory["bind_dn"] as? String == site.bindDN)
        #expect(directory["tls"] as? String == "ldaps")
        #expect(directory["ca_file"] as? String == site.caFile)
        #expect(directory["password"] == nil)
        let passwordFile = try #require(directory["password_file"] as? String)
        #expect(try String(contentsOfFile: passwordFile, encoding: .utf8) == site.password)
        let mode = try FileManager.default.attributesOfItem(atPath: passwordFile)[.posixPermissions] as? Int
        #expect(mode == 0o600)

        // A restart keeps the state directory (the connector's identity).
        let identity = connector.stateDirectory.appendingPathComponent("connector.json")
        try Data("{}".utf8).write(to: identity)
        let restarted = try site.startConnector(connector, executable: fake.path)
        #expect(try #require(await restarted.ended(within: .seconds(30))).code == 0)
        #expect(FileManager.default.fileExists(atPath: identity.path))
    }

    @Test("a site of its own: a second start leaves it running as it was, stop leaves no namespace, veth or samba")
    func ownSiteLifecycle() async throws {
        let ip = try #require(ConnectorSite.ip)
        var stopped: ConnectorSite?
        try await ConnectorSite.with { site in
            let shared = try ConnectorSite.shared
            #expect(site.namespace != shared.namespace)
            #expect(site.hostAddress != shared.hostAddress)
            let before = try await Self.identity(url: site.ldapURL, bindDN: site.bindDN, password: site.password) {
                try await site.run(["ldapsearch"] + $0)
            }
            let again = try await ConnectorSite.start(folder: site.folder)
            #expect(again.namespace == site.namespace && again.hostAddress == site.hostAddress)
            let after = try await Self.identity(url: site.ldapURL, bindDN: site.bindDN, password: site.password) {
                try await site.run(["ldapsearch"] + $0)
            }
            #expect(after.invocationID == before.invocationID)
            let samba = try String(contentsOfFile: site.folder + "/dc/run/charter-samba.pid", encoding: .utf8)
            stopped = site
            try await site.stop()
            #expect(kill(try #require(Int32(samba.trimmingCharacters(in: .whitespacesAndNewlines))), 0) == -1)
            try await site.stop()
        }
        let site = try #require(stopped)
        let namespaces = try await ChildProcess.run(ip, ["netns", "list"])
        #expect(!String(decoding: namespaces.output, as: UTF8.self).contains(site.namespace))
        let links = try await ChildProcess.run(ip, ["-4", "-o", "addr", "show"])
        #expect(!String(decoding: links.output, as: UTF8.self).contains(site.hostAddress + "/30"))
    }

    @Test(
        "a site's env file is read back as written",
        arguments: [
            ("export A=ldap://127.0.0.2", ["A": "ldap://127.0.0.2"]),
            ("export B='cn=Administrator,cn=Users,dc=site,dc=test'", ["B": "cn=Administrator,cn=Users,dc=site,dc=test"]),
            ("export C=a=b\nexport D=''\n# comment\nE=x", ["C": "a=b", "D": ""]),
        ]
    )
    func envFile(text: String, expected: [String: String]) {
        #expect(ConnectorSite.variables(ofEnvFile: text) == expected)
    }

    /// Writes an executable script through a descriptor closed on exec: a process another test spawns meanwhile
    /// would otherwise hold it open for writing, and executing the script would fail with "Text file busy".
    static func writeExecutable(_ path: String, _ text: String) throws {
        let descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o755)
        try #require(descriptor >= 0, "cannot create \(path)")
        defer { close(descriptor) }
        let bytes = Array(text.utf8)
        try #require(write(descriptor, bytes, bytes.count) == bytes.count, "cannot write \(path)")
    }

    /// The naming context and invocationId of the DC that answers at `url`, read with `ldapsearch` run by `search`.
    static func identity(
        url: String, bindDN: String, password: String,
        search: ([String]) async throws -> ChildProcess.Termination
    ) async throws -> (namingContext: String, invocationID: String) {
        let bind = ["-x", "-LLL", "-o", "ldif_wrap=no", "-H", url, "-D", bindDN, "-w", password]
        let root = try await search(bind + ["-b", "", "-s", "base", "defaultNamingContext", "dsServiceName"])
        let service = try value("dsServiceName", in: root)
        let settings = try await search(bind + ["-b", service, "-s", "base", "invocationId"])
        return (try value("defaultNamingContext", in: root), try value("invocationId", in: settings))
    }

    /// The first value of `attribute` in `ldapsearch` output (`name: text` or `name:: base64`).
    static func value(_ attribute: String, in ended: ChildProcess.Termination) throws -> String {
        try #require(ended.status == 0, "ldapsearch failed: \(ended.errorOutput)")
        let lines = String(decoding: ended.output, as: UTF8.self).split(separator: "\n")
        let line = try #require(lines.first { $0.lowercased().hasPrefix(attribute.lowercased() + ":") })
        return line.dropFirst(attribute.count + 1).trimmingCharacters(in: CharacterSet(charactersIn: ": "))
    }
}
