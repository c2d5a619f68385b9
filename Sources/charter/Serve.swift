import ArgumentParser
import CharterServer
import CharterStore
import Foundation
import Hummingbird
import Logging
import Metrics
import Prometheus
import ServiceLifecycle
import UnixSignals

/// `charter serve`: the HTTP service and its background services, until SIGTERM or SIGINT.
struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Serve the admin and agent APIs.",
        discussion: "Stops gracefully on SIGTERM/SIGINT: readiness fails, agents' event streams close over shutdown.drain_seconds, in-flight requests finish, the database pool drains."
    )

    @OptionGroup var options: CommonOptions

    @Option(help: "Address to listen on (overrides CHARTER_HTTP_HOST).")
    var host: String?

    @Option(help: "Port to listen on (overrides CHARTER_HTTP_PORT).")
    var port: Int?

    @Flag(help: "Apply pending migrations first, as the schema owner (CHARTER_DATABASE_MIGRATION_URL).")
    var migrate = false

    func run() async throws {
        var config: ServerConfiguration
        do {
            config = try ServerConfiguration(reader: try await options.reader())
        } catch let error as ConfigurationError {
            throw CLIFailure(error.description)
        }
        if let databaseURL = options.databaseURL { config.databaseURL = databaseURL }
        if let host { config.host = host }
        if let port {
            guard (1...65535).contains(port) else { throw ValidationError("--port must be from 1 to 65535") }
            config.port = port
        }
        let logger = LogSetup.bootstrap(level: config.logLevel)
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))

        if migrate {
            let bootstrap = try BootstrapKeyConfiguration.read(try await options.reader())
            try await Migrate.apply(url: config.migrationDatabaseURL ?? config.databaseURL, bootstrap: bootstrap, logger: logger)
        }
        do {
            let service = try buildService(config, logger: logger, metrics: registry)
            // Services stop in reverse order: the drain first (readiness fails, event streams close over the
            // drain window), then the application (in-flight requests finish).
            var group = ServiceGroupConfiguration(
                services: [service.application, service.drain],
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger
            )
            // Draining and in-flight requests get their windows; then whatever remains is cancelled.
            group.maximumGracefulShutdownDuration = .seconds(config.shutdownDrainSeconds + config.shutdownGraceSeconds)
            try await ServiceGroup(configuration: group).run()
        } catch let error as ConfigurationError {
            throw CLIFailure(error.description)
        } catch let error as StartupError {
            throw CLIFailure("cannot start: \(error.message)")
        }
    }
}
