package import CharterBundle
import CharterCore
import CharterDirectory
package import CharterServices
package import CharterStore
import Foundation
package import Hummingbird
package import Logging
import OpenAPIHummingbird
import NIOCore
import OpenAPIRuntime
import NIOPosix
import PostgresNIO
package import Prometheus
import ServiceLifecycle

/// The service as `charter serve` runs it: the application (HTTP server and background services) and the
/// drain service, which must run after it in the same service group so that it stops first.
package struct CharterService<App: ApplicationProtocol> {
    package let application: App
    package let drain: DrainService
}

/// Builds the whole service: database client, router, background services and the HTTP server.
///
/// `charter serve` and the tests both call this, so what is tested is what runs.
///
/// - Parameters:
///   - config: The validated configuration.
///   - logger: The service's logger.
///   - metrics: The registry `/metrics` exports; the caller bootstraps swift-metrics with it (once per process).
/// - Returns: An application to run with `runService()` (or `test(...)`).
/// - Throws: ``ConfigurationError`` for a database URL that cannot be parsed.
package func buildApplication(
    _ config: ServerConfiguration,
    logger: Logger,
    metrics: PrometheusCollectorRegistry = PrometheusCollectorRegistry()
) throws -> some ApplicationProtocol {
    try buildService(config, logger: logger, metrics: metrics).application
}

/// A database client for the URL configured under `key`, refused with a ``ConfigurationError`` naming it.
private func postgresClient(
    _ url: String, key: String, maximumConnections: Int, logger: Logger
) throws(ConfigurationError) -> PostgresClient {
    var configuration: PostgresClient.Configuration
    do {
        configuration = try DatabaseURL.configuration(from: url)
    } catch {
        throw ConfigurationError(key: key, problem: error.description)
    }
    configuration.options.maximumConnections = maximumConnections
    return PostgresClient(configuration: configuration, backgroundLogger: logger)
}

/// Builds the application and its drain service (see ``CharterService``).
package func buildService(
    _ config: ServerConfiguration,
    logger: Logger,
    metrics: PrometheusCollectorRegistry = PrometheusCollectorRegistry()
) throws -> CharterService<some ApplicationProtocol> {
    var databaseLogger = logger
    databaseLogger[metadataKey: "component"] = "postgres"
    let client = try postgresClient(
        config.databaseURL, key: "database.url", maximumConnections: config.poolSize, logger: databaseLogger
    )
    // The listener's own connection, and one more while a broken one is replaced.
    let listenClient = try config.listenDatabaseURL.map { url throws(ConfigurationError) in
        try postgresClient(url, key: "database.listen_url", maximumConnections: 2, logger: databaseLogger)
    }
    let database = Database(client: client, listenClient: listenClient, maximumConnections: config.poolSize)
    let sealer = try keyEncryptionKeys(config)
    let directorySync = directorySyncEngine(config, sealer: sealer, database: database, logger: logger)
    let hub = EventHub(database: database, logger: logger)
    let drain = DrainState()
    let syncRunner = directorySync.map {
        DirectorySyncRunner(
            engine: $0, maximumRuns: config.limits.syncRunsPerProcess,
            maximumRunsPerTenant: config.limits.syncRunsPerTenant, logger: $0.logger
        )
    }
    let directory = DirectoryService(
        database: database, engine: directorySync, runner: syncRunner,
        connectionsPerTenant: config.limits.quotas.directoryConnectionsPerTenant
    )
    let requests = RequestService(database: database, emailsApprovers: config.smtp != nil)
    let relyingParty = openIDRelyingParty(config, logger: logger)
    let refresher = relyingParty.map {
        SessionRefreshService(database: database, sealer: sealer, relyingParty: $0, policy: config.sessionRefreshPolicy)
    }
    let people = PeopleService(
        database: database, lifetime: config.sessionLifetime, sealer: sealer, refreshPolicy: config.sessionRefreshPolicy,
        refresher: refresher
    )
    let router = buildRouter(
        config, database: database, metrics: metrics, directory: directory, sealer: sealer, hub: hub, drain: drain,
        requests: requests, people: people, refresher: refresher,
        signIn: signInService(config, database: database, sealer: sealer, relyingParty: relyingParty, recorder: people)
    )
    // Services stop in reverse order: the hub before the clients its listener and reads use.
    var services: [any Service] = [client]
    if let listenClient { services.append(listenClient) }
    services += [
        hub, IdempotencyPruneService(database: database, logger: logger),
        RequestExpiryService(requests: requests, interval: .seconds(config.requestExpiryPollSeconds), logger: logger),
    ]
    if let sealer {
        services.append(
            WebhookDeliveryService(
                database: database, sealer: sealer, outbound: outboundGuard(config), pollInterval: .seconds(1),
                retryBase: TimeInterval(config.webhookRetryBaseSeconds), timeout: .seconds(config.webhookTimeoutSeconds),
                logger: logger
            )
        )
    }
    if let smtp = config.smtp {
        let client: SMTPClient
        do {
            client = try SMTPClient(configuration: smtp)
        } catch {
            throw ConfigurationError(key: "smtp.ca_file", problem: "cannot be used to verify TLS (\(error))")
        }
        var emailLogger = logger
        emailLogger[metadataKey: "component"] = "email"
        services.append(
            EmailDeliveryService(
                database: database, client: client, pollInterval: .seconds(1), logger: emailLogger,
                maximumPerTenantPerHour: config.limits.emailsPerTenantPerHour
            )
        )
    }
    if config.auditVerifyIntervalSeconds > 0 {
        // A broken chain is logged, shown in the MSP overview and raised as `audit.chain_broken` (docs/alerts.md).
        services.append(
            AuditChainVerifier(
                database: database, interval: .seconds(config.auditVerifyIntervalSeconds),
                maximumEvents: config.auditVerifyMaxEvents, alarm: AlertService(database: database, emailsAlerts: config.smtp != nil), logger: logger
            )
        )
    }
    if let syncRunner { services.append(syncRunner) }
    if let directorySync, config.directorySyncPollSeconds > 0 {
        services.append(
            DirectorySyncScheduler(
                database: database, engine: directorySync, pollInterval: .seconds(config.directorySyncPollSeconds),
                logger: logger
            )
        )
    }
    let headTimeout = TimeAmount.seconds(Int64(config.limits.headerTimeoutSeconds))
    var app = Application(
        responder: EventStreamResponder(
            inner: router.buildResponder(), streamPaths: [AgentRoutes.eventsPath, ConnectorRoutes.eventsPath]
        ),
        server: .http1(
            configuration: .init(
                additionalChannelHandlers: [RequestHeadTimeoutHandler(timeout: headTimeout)],
                idleTimeout: .seconds(Int64(config.limits.idleTimeoutSeconds))
            )
        ),
        configuration: .init(
            address: .hostname(config.host, port: config.port), serverName: "charter", backlog: config.limits.backlog
        ),
        services: services,
        logger: logger
    )
    app.beforeServerStarts {
        try await SchemaCheck(database: database).requireReady(logger: logger)
    }
    return CharterService(
        application: app,
        drain: DrainService(state: drain, hub: hub, window: .seconds(config.shutdownDrainSeconds), logger: logger)
    )
}

/// The router: operational routes, then the authenticated admin API generated from `openapi.yaml`.
func buildRouter(
    _ config: ServerConfiguration,
    database: Database,
    metrics: PrometheusCollectorRegistry,
    directory: DirectoryService,
    sealer: SecretSealer? = nil,
    hub: EventHub,
    drain: DrainState,
    requests: RequestService,
    people: PeopleService,
    refresher: SessionRefreshService?,
    signIn: SignInService?
) -> Router<AppRequestContext> {
    let router = Router(context: AppRequestContext.self)
    router.add(middleware: LogRequestsMiddleware(.info))
    router.add(middleware: MetricsMiddleware())
    router.add(middleware: ProblemMiddleware())

    OperationsRoutes(database: database, metrics: metrics, drain: drain).register(on: router)
    // Bodies are read only after authentication (the agent routes read theirs after the device token, enrollment
    // up to its own small limit); before it, only a declared length is checked.
    let rateLimiter = config.limits.rateLimiter()
    let endpointService = EndpointService(
        database: database, sealer: sealer,
        limits: .init(
            devicesPerTenant: config.limits.quotas.devicesPerTenant,
            knownUsersPerDevice: config.limits.quotas.knownUsersPerDevice,
            deviceTokenLifetime: TimeInterval(config.deviceTokenSeconds)
        ),
        disconnect: { await hub.disconnect(device: $0) }, emailsAlerts: config.smtp != nil
    )
    if sealer != nil {
        hub.pushBundles { devices, binding, logger in
            try await endpointService.currentBundles(of: devices, in: binding, logger: logger)
        }
    }
    let connectorService = ConnectorService(
        database: database, sealer: sealer,
        limits: .init(
            connectorsPerTenant: config.limits.quotas.connectorsPerTenant,
            tokenLifetime: TimeInterval(config.connectorTokenSeconds), leaseSeconds: config.connectorLeaseSeconds,
            heartbeatSeconds: config.connectorHeartbeatSeconds
        ),
        disconnect: { await hub.disconnect(connector: $0) }
    )
    // Connector routes start with it (docs/connector-protocol.md): protocol header, `chtk_` token, rate limits.
    let connectorAuthenticator = ConnectorAuthenticator(connectors: connectorService, rateLimiter: rateLimiter)
    ConnectorRoutes(
        connectors: connectorService, authenticator: connectorAuthenticator, hub: hub, drain: drain,
        maximumBodyBytes: config.maxBodyBytes, enrollMaximumBodyBytes: config.limits.enrollMaximumBodyBytes,
        rateLimiter: rateLimiter
    ).register(
        on: router.group().add(middleware: BodyLimitMiddleware(maximumBytes: config.maxBodyBytes, collectsBody: false))
    )
    AgentRoutes(
        database: database, endpoints: endpointService, hub: hub, drain: drain, maximumBodyBytes: config.maxBodyBytes,
        enrollMaximumBodyBytes: config.limits.enrollMaximumBodyBytes, rateLimiter: rateLimiter,
        requests: requests, now: { Date() }
    ).register(
        on: router.group().add(middleware: BodyLimitMiddleware(maximumBytes: config.maxBodyBytes, collectsBody: false))
    )

    if let signIn {
        SignInRoutes(service: signIn, secureCookies: config.publicURL?.lowercased().hasPrefix("https:") == true)
            .register(on: router)
    }

    // Pages are up to 8 MiB as sent; each route reads its body only after the connector's token.
    ConnectorRunRoutes(
        authenticate: { request, context in try await connectorAuthenticator.authenticate(request, context: context) },
        service: ConnectorSyncService(
            database: database, limits: directory.engine?.limits ?? .init(), pageCache: directory.engine?.connectorPages
        ),
        maximumBodyBytes: config.maxBodyBytes
    ).register(
        on: router.group().add(
            middleware: BodyLimitMiddleware(maximumBytes: ConnectorPageCodec.maximumSentBytes, collectsBody: false)
        )
    )

    let api = router.group()
        .add(middleware: SignOutCookiesMiddleware(secureCookies: config.publicURL?.lowercased().hasPrefix("https:") == true))
        .add(middleware: ETagHeaderMiddleware())
        .add(middleware: BodyLimitMiddleware(maximumBytes: config.maxBodyBytes, collectsBody: false))
        .add(
            middleware: SessionAuthenticator(
                database: database, lifetime: config.sessionLifetime, refreshPolicy: config.sessionRefreshPolicy,
                refresher: refresher
            )
        )
        .add(middleware: APIKeyAuthenticator(database: database))
        .add(middleware: RequestScopeMiddleware())
        .add(middleware: RateLimitMiddleware(limiter: rateLimiter))
        .add(middleware: BodyLimitMiddleware(maximumBytes: config.maxBodyBytes))
        .add(middleware: IdempotencyMiddleware.apiKeys(database: database))
    // The generated registration only fails for a malformed document, which the build already validated.
    do {
        try APIHandler(
            tenancy: TenancyService(
                database: database, newKeySecret: { .generate() },
                overviewSnapshots: config.overviewMaxAgeSeconds > 0
                    ? OverviewSnapshots(maxAge: TimeInterval(config.overviewMaxAgeSeconds)) : nil
            ),
            policy: PolicyService(database: database), requests: requests,
            webhooks: WebhookService(database: database, maximumPerTenant: config.limits.quotas.webhooksPerTenant),
            alertEmails: AlertEmailService(
                database: database, maximumPerOwner: config.limits.quotas.webhooksPerTenant
            ),
            audit: AuditService(database: database), directory: directory, endpointService: endpointService,
            connectorService: connectorService,
            people: people,
            identityProviders: IdentityProviderService(
                database: database, sealer: sealer, allowsInsecureLoopbackIssuer: config.identityAllowsInsecureHTTP
            ),
            reports: ReportService(database: database),
            baselines: BaselineService(database: database)
        ).registerHandlers(
            on: api,
            configuration: OpenAPIRuntime.Configuration(dateTranscoder: RFC3339DateTranscoder()),
            middlewares: [WireRulesMiddleware(), DocumentBodyMiddleware(maximumBytes: config.maxBodyBytes)]
        )
    } catch {
        preconditionFailure("openapi.yaml routes could not be registered: \(error)")
    }
    return router
}

/// The key-encryption keys' sealer (device secrets, signing keys, bind passwords and webhook secrets are sealed
/// with it), or `nil` when none is configured.
///
/// - Throws: ``ConfigurationError`` for a `kek` SecretSealer does not accept.
package func keyEncryptionKeys(_ config: ServerConfiguration) throws -> SecretSealer? {
    guard let kek = config.kek else { return nil }
    do {
        return try SecretSealer(configuration: kek)
    } catch {
        throw ConfigurationError(key: "kek", problem: "is not a valid key set (\(error))")
    }
}

/// The directory sync engine, when a key-encryption key is configured (bind passwords are sealed with it).
package func directorySyncEngine(
    _ config: ServerConfiguration, sealer: SecretSealer?, database: Database, logger: Logger
) -> DirectorySyncEngine? {
    guard let sealer else { return nil }
    var syncLogger = logger
    syncLogger[metadataKey: "component"] = "directory-sync"
    let engine = DirectorySyncEngine(
        database: database, sealer: sealer, threadPool: .ldap, logger: syncLogger,
        leaseDuration: .seconds(config.directorySyncLeaseSeconds),
        limits: .init(
            deadline: .seconds(config.limits.syncDeadlineSeconds), maximumObjects: config.limits.syncMaximumObjects,
            // Beyond one heartbeat interval: a connector that is online takes a free lease within one.
            connectorGrace: .seconds(max(15, config.connectorHeartbeatSeconds + 5))
        ),
        destinations: outboundGuard(config).policy, emailsAlerts: config.smtp != nil
    )
    return engine
}

/// The OpenID Connect relying party, when `http.public_url` is set (sign-in needs it): it reaches providers
/// through the outbound policy, with the webhooks' deadline. Sign-ins and session refreshes share it (and so
/// its cache of discovery documents and keys).
func openIDRelyingParty(_ config: ServerConfiguration, logger: Logger) -> OpenIDRelyingParty? {
    guard config.publicURL != nil else { return nil }
    var identityLogger = logger
    identityLogger[metadataKey: "component"] = "identity"
    let transport = HTTPOpenIDTransport(
        outbound: outboundGuard(config), timeout: .seconds(config.webhookTimeoutSeconds),
        eventLoopGroup: MultiThreadedEventLoopGroup.singleton, logger: identityLogger
    )
    return OpenIDRelyingParty(transport: transport, allowsInsecureLoopback: config.identityAllowsInsecureHTTP)
}

/// The OpenID Connect sign-in, when `http.public_url` is set and so a relying party exists.
func signInService(
    _ config: ServerConfiguration, database: Database, sealer: SecretSealer?, relyingParty: OpenIDRelyingParty?,
    recorder: any SignInRecorder
) -> SignInService? {
    guard let publicURL = config.publicURL, let relyingParty else { return nil }
    return SignInService(
        database: database, sealer: sealer, relyingParty: relyingParty, recorder: recorder,
        redirectURI: publicURL + "/v1/auth/callback"
    )
}

/// The outbound policy for tenant-named destinations: `outbound.allowed_cidrs` over the default refusals,
/// with the addresses of this host and the one the service listens on.
package func outboundGuard(_ config: ServerConfiguration) -> OutboundGuard {
    OutboundGuard(allowedNetworks: config.outboundAllowedNetworks, listeningHost: config.host)
}
