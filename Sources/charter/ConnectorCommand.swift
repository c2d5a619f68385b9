import ArgumentParser
import AsyncHTTPClient
import CharterConnector
import Foundation
import Logging
import ServiceLifecycle
import UnixSignals

/// `charter connector run | enroll | check`: the on-premises directory connector (docs/connector.md).
struct ConnectorCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "connector",
        abstract: "Sync Active Directory from inside the customer's network, outbound HTTPS only.",
        discussion: "Configuration comes from a JSON file (--config, CHARTER_CONNECTOR_CONFIG) and CHARTER_CONNECTOR_* variables; see docs/connector.md.",
        subcommands: [Run.self, Enroll.self, Check.self],
        defaultSubcommand: Run.self
    )

    /// The options every connector subcommand shares.
    struct Options: ParsableArguments {
        @Option(name: .long, help: "The connector's JSON configuration file (also CHARTER_CONNECTOR_CONFIG).")
        var config: String?

        /// The validated configuration; a bad value is one line naming its key.
        func load() async throws -> ConnectorConfiguration {
            do {
                return try await ConnectorConfiguration.load(
                    file: config, environment: ProcessInfo.processInfo.environment, hostname: hostname
                )
            } catch {
                throw CLIFailure(error.description)
            }
        }

        var hostname: String { ProcessInfo.processInfo.hostName }
    }

    struct Run: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Enroll when needed, then heartbeat, hold the event stream and upload the runs the service assigns.",
            discussion: "Stops gracefully on SIGTERM/SIGINT."
        )

        @OptionGroup var options: Options

        func run() async throws {
            let configuration = try await options.load()
            let logger = LogSetup.bootstrap(level: configuration.logLevel)
            let http = HTTPClient(eventLoopGroupProvider: .singleton)
            let service = ConnectorService(
                configuration: configuration, httpClient: http, hostname: options.hostname, logger: logger
            )
            let group = ServiceGroup(
                configuration: .init(services: [service], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
            )
            do {
                try await group.run()
            } catch {
                try? await http.shutdown()
                throw CLIFailure("\(error)")
            }
            try await http.shutdown()
        }
    }

    struct Enroll: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Enroll this connector, or re-enroll it with a new key proven by its current one.",
            discussion: "Needs a connector enrollment token (--token, or enrollment_token in the configuration). An existing identity in state_dir signs the re-enrollment and is replaced."
        )

        @OptionGroup var options: Options

        @Option(help: "A connector enrollment token (chte_…) instead of the configured one.")
        var token: String?

        func run() async throws {
            let configuration = try await options.load()
            let logger = LogSetup.bootstrap(level: configuration.logLevel)
            guard let token = token ?? configuration.enrollmentToken else {
                throw CLIFailure("no enrollment token: pass --token chte_… or set enrollment_token (or enrollment_token_file)")
            }
            let http = HTTPClient(eventLoopGroupProvider: .singleton)
            let client = ConnectorClient(httpClient: http, baseURL: configuration.serviceURL, logger: logger)
            do {
                let current = try ConnectorState.load(from: configuration.stateDirectory)
                let state = try await ConnectorSession.enroll(
                    configuration, token: token, client: client, hostname: options.hostname, current: current, logger: logger
                )
                print("\(current == nil ? "enrolled" : "re-enrolled") connector \(state.connectorID) of tenant \(state.tenantID)")
            } catch {
                try? await http.shutdown()
                throw CLIFailure("enrollment failed: \(error)")
            }
            try await http.shutdown()
        }
    }

    struct Check: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check the configuration, each domain controller, what a full read would read, and the service.",
            discussion: "Prints one line per check and exits non-zero when any failed. Reads the directory once; uploads nothing."
        )

        @OptionGroup var options: Options

        func run() async throws {
            let configuration: ConnectorConfiguration
            do {
                configuration = try await options.load()
            } catch {
                print("FAIL \(error)")
                throw ExitCode.failure
            }
            print("ok   configuration: \(configuration.directory.urls.count) domain controllers, service \(configuration.serviceURL)")
            let logger = LogSetup.bootstrap(level: .error)
            let http = HTTPClient(eventLoopGroupProvider: .singleton)
            let lines = await ConnectorCheck(configuration: configuration, httpClient: http, logger: logger).run { print($0) }
            try await http.shutdown()
            if lines.contains(where: { !$0.passed }) { throw ExitCode.failure }
        }
    }
}
