package import CharterAgentWire
package import CharterCore
package import CharterDirectory
package import Foundation
package import Logging
package import NIOPosix

extension DestinationPolicy {
    /// Every address: the connector reaches the DCs its own configuration names, inside the customer's network.
    package static let everywhere = DestinationPolicy(
        allowedNetworks: [IPNetwork("0.0.0.0/0"), IPNetwork("::/0")].compactMap { $0 }
    )
}

/// The domain controllers of the connector's configuration: reachability probes, and the bound connections a
/// read runs over.
package struct SiteDirectory: Sendable {
    package let configuration: ConnectorConfiguration
    package let threadPool: NIOThreadPool
    package let logger: Logger
    /// How long a probe's connect and bind may take per DC.
    package var probeTimeout: Duration = .seconds(10)

    package init(configuration: ConnectorConfiguration, threadPool: NIOThreadPool = .ldap, logger: Logger) {
        self.configuration = configuration
        self.threadPool = threadPool
        self.logger = logger
    }

    /// Connects and binds to the first configured DC that answers, with the password read now.
    ///
    /// - Throws: ``ConnectorConfigurationError`` for an unreadable password file, `LDAPError` otherwise.
    package func connect() async throws -> LDAPConnection {
        let ldap = configuration.ldapConfiguration(password: try configuration.readPassword())
        return try await LDAPConnection.connect(ldap, threadPool: threadPool, logger: logger)
    }

    /// Connects and binds to one DC, then unbinds: whether it is reachable with the configured credentials.
    ///
    /// - Parameters:
    ///   - url: One of the configured URLs.
    ///   - password: The bind password.
    /// - Returns: The error's text, or `nil` when the bind succeeded.
    package func probe(_ url: String, password: String) async -> LDAPError? {
        let ldap = configuration.ldapConfiguration(
            password: password, urls: [url], connectTimeout: probeTimeout, operationTimeout: probeTimeout
        )
        do {
            let connection = try await LDAPConnection.connect(ldap, threadPool: threadPool, logger: logger)
            connection.close()
            return nil
        } catch let error as LDAPError {
            return error
        } catch {
            return LDAPError(code: .other, operation: "connect", diagnosticMessage: "\(error)", url: url)
        }
    }
}

/// The reachability the heartbeat reports, probed at most once per interval, without binding again with a
/// password a DC already refused (each refused bind counts towards the account's lockout).
package struct DomainControllerProbe: Sendable {
    /// How often the DCs are probed; heartbeats in between report the last result.
    package var interval: Duration = .seconds(60)
    private var last: [DomainControllerStatus] = []
    private var lastProbe: ContinuousClock.Instant?
    /// The password each DC refused with invalid credentials.
    private var refused: [String: String] = [:]

    package init() {}

    /// The status of every configured DC, probing them again when the interval passed.
    package mutating func status(of directory: SiteDirectory, now: ContinuousClock.Instant = .now) async
        -> [DomainControllerStatus]
    {
        if let lastProbe, now - lastProbe < interval, !last.isEmpty { return last }
        lastProbe = now
        let checkedAt = Date()
        let password: String
        do {
            password = try directory.configuration.readPassword()
        } catch {
            last = directory.configuration.directory.urls.map {
                DomainControllerStatus(url: $0, reachable: false, checkedAt: checkedAt, error: String("\(error)".prefix(500)))
            }
            return last
        }
        var statuses: [DomainControllerStatus] = []
        for url in directory.configuration.directory.urls {
            if let previous = last.first(where: { $0.url == url }), refused[url] == password {
                statuses.append(DomainControllerStatus(url: url, reachable: false, checkedAt: previous.checkedAt, error: previous.error))
                continue
            }
            let error = await directory.probe(url, password: password)
            refused[url] = error?.code == .invalidCredentials ? password : nil
            statuses.append(
                DomainControllerStatus(
                    url: url, reachable: error == nil, checkedAt: checkedAt, error: error.map { String($0.description.prefix(500)) }
                )
            )
        }
        last = statuses
        return statuses
    }
}
