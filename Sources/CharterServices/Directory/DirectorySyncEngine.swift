package import CharterBundle
package import CharterCore
import CharterServices
package import CharterDirectory
import CharterServices
package import CharterStore
import AsyncAlgorithms
import Foundation
package import Logging
package import NIOPosix
import ServiceLifecycle

/// Runs one directory sync of one connection: read from the DC, then stage, merge and record.
///
/// The whole read happens before any transaction opens (no transaction is held while the DC answers); the
/// change to the stored directory (objects, member edges, closure, watermark) is then one transaction. A
/// failure anywhere (LDAP error, DC gone mid-read, the run's deadline or object limit, database error, deletion
/// guard) changes nothing and the run is recorded as failed or `needs_confirmation` in a transaction of its own.
/// The connection's lease is held for the duration (and renewed), so the API, the CLI and any number of
/// schedulers never sync one connection twice at once.
package struct DirectorySyncEngine: Sendable {
    /// What to run.
    package struct Request: Sendable, Hashable {
        package var tenantID: TenantID
        package var mspID: MSPID
        package var connectionID: DirectoryConnectionID
        /// `.incremental` falls back to a full sync when there is no watermark or the DC requires it.
        package var kind: SyncRun.Kind
        package var trigger: SyncRun.Trigger
        /// Apply deletions beyond the connection's threshold (an administrator confirmed them).
        package var confirmsDeletions: Bool
        /// Who asked, for the audit log; `nil` records the engine's own actor (the scheduler).
        package var actor: AuditRecord.Actor?

        package init(
            tenantID: TenantID, mspID: MSPID, connectionID: DirectoryConnectionID, kind: SyncRun.Kind,
            trigger: SyncRun.Trigger, confirmsDeletions: Bool = false, actor: AuditRecord.Actor? = nil
        ) {
            self.tenantID = tenantID
            self.mspID = mspID
            self.connectionID = connectionID
            self.kind = kind
            self.trigger = trigger
            self.confirmsDeletions = confirmsDeletions
            self.actor = actor
        }
    }

    /// Bounds on every run of this engine.
    package struct Limits: Sendable, Hashable {
        /// A run that has not finished after this long fails (and stores nothing).
        package var deadline: Duration
        /// A read that returns more objects and tombstones than this fails (and stores nothing); it also bounds
        /// the memory a run holds, since the whole read is held until it is applied.
        package var maximumObjects: Int

        /// How long a run of a `connector` connection waits for one of its connectors to hold the lease — at its
        /// start, or after the lease ran out in the middle — before it fails as offline (a connector heartbeats
        /// every 10 s by default, and at once when hinted; the service passes more than the heartbeat interval).
        package var connectorGrace: Duration

        package init(
            deadline: Duration = .seconds(1800), maximumObjects: Int = 100_000, connectorGrace: Duration = .seconds(15)
        ) {
            self.deadline = deadline
            self.maximumObjects = maximumObjects
            self.connectorGrace = connectorGrace
        }
    }

    /// A run ``begin(_:maximumRunsPerTenant:)`` recorded as running, holding its connection's lease.
    package struct StartedRun: Sendable {
        package var run: SyncRun
        package var request: Request
        let connection: DirectoryConnection
        let watermark: StoredWatermark?
    }

    let database: Database
    /// Seals and opens bind passwords.
    package let sealer: SecretSealer
    let threadPool: NIOThreadPool
    package let logger: Logger
    /// Who holds leases taken by this engine (one per process).
    package let leaseOwner: String
    package let leaseDuration: Duration
    /// The actor recorded in the audit log for runs.
    let actor: AuditRecord.Actor
    /// Page size and ranged retrieval of the reader (tests ask for AD's 1500-value ranges from Samba).
    let readerOptions: DirectoryReader.Options
    /// The addresses a connection's URLs may lead to (the service's outbound policy).
    let destinations: DestinationPolicy
    /// The longest one LDAP operation (the bind, one page) may take.
    let operationTimeout: Duration
    /// An incremental sync turns full when the last full sync is older than this (seconds): deletions that
    /// tombstones missed (tombstone lifetime passed, objects moved out of scope) are swept then.
    let fullSyncInterval: TimeInterval = 86_400
    package let limits: Limits
    /// The pages the upload route of this process decoded, for ``readThroughConnector`` to take rather than
    /// decode again; the route's ``ConnectorSyncService`` shares it.
    package let connectorPages: ConnectorPageCache
    /// Alerts are emailed too (the server sends email: `smtp.host` is set).
    package let emailsAlerts: Bool

    package init(
        database: Database, sealer: SecretSealer, threadPool: NIOThreadPool, logger: Logger,
        leaseOwner: String = "charter-\(UUID().uuidString.lowercased())", leaseDuration: Duration = .seconds(300),
        actor: AuditRecord.Actor = AuditRecord.Actor(id: nil, name: "directory sync"),
        readerOptions: DirectoryReader.Options = DirectoryReader.Options(), limits: Limits = Limits(),
        destinations: DestinationPolicy, operationTimeout: Duration = .seconds(60),
        connectorPages: ConnectorPageCache = ConnectorPageCache(), emailsAlerts: Bool = false
    ) {
        self.limits = limits
        self.emailsAlerts = emailsAlerts
        self.connectorPages = connectorPages
        self.database = database
        self.sealer = sealer
        self.threadPool = threadPool
        self.logger = logger
        self.leaseOwner = leaseOwner
        self.leaseDuration = leaseDuration
        self.actor = actor
        self.readerOptions = readerOptions
        self.destinations = destinations
        self.operationTimeout = operationTimeout
    }

    /// Runs one sync and returns the recorded run (succeeded, failed or needs_confirmation).
    ///
    /// - Parameter onProgress: called with the number of objects read so far, after each page is read.
    /// - Throws: ``DirectorySyncError/alreadyRunning(_:)`` when the connection is leased elsewhere,
    ///   `StoreError.notFound` for an unknown connection; failures after the run started are recorded, not thrown.
    package func sync(
        _ request: Request, onProgress: @escaping @Sendable (Int) async -> Void = { _ in }
    ) async throws -> SyncRun {
        try await run(try await begin(request), onProgress: onProgress)
    }

    /// Takes the connection's lease and records a run as `running`, in one short transaction.
    ///
    /// - Parameter maximumRunsPerTenant: when given, refuses to start while this many connections of the tenant
    ///   are leased (by any process, scheduler included); the count and the lease are taken under a per-tenant
    ///   advisory lock, so concurrent starts cannot overshoot.
    /// - Throws: ``DirectorySyncError/alreadyRunning(_:)``, ``DirectorySyncError/tenantBusy(_:)``,
    ///   `StoreError.notFound` for an unknown connection.
    package func begin(_ request: Request, maximumRunsPerTenant: Int? = nil) async throws -> StartedRun {
        let run = SyncRun(
            id: .random(), connectionID: request.connectionID, kind: request.kind, status: .running,
            trigger: request.trigger, confirmsDeletions: request.confirmsDeletions, startedAt: Date()
        )
        let (connection, watermark) = try await database.withTenant(
            request.tenantID, msp: request.mspID, logger: logger
        ) { tx in
            let connection = try await tx.directoryConnections(of: request.tenantID).get(request.connectionID)
            if let maximumRunsPerTenant {
                let held = try await tx.directorySyncJobs.heldLeases(
                    tenant: request.tenantID, excluding: request.connectionID
                )
                guard held < maximumRunsPerTenant else { throw DirectorySyncError.tenantBusy(maximumRunsPerTenant) }
            }
            let acquired = try await tx.directorySyncJobs.acquire(
                tenant: request.tenantID, connection: request.connectionID, owner: leaseOwner, lease: leaseDuration
            )
            guard acquired else { throw DirectorySyncError.alreadyRunning(request.connectionID) }
            // Holding the lease, no other process runs this connection: a run still `running` was left by one
            // that died.
            let abandoned = try await tx.syncRuns(of: request.tenantID).abandonRunning(connection: request.connectionID)
            if !abandoned.isEmpty {
                logger.notice(
                    "directory sync runs abandoned",
                    metadata: ["directory.connection": "\(request.connectionID)", "sync.runs": "\(abandoned)"]
                )
            }
            try await tx.syncRuns(of: request.tenantID).insert(run)
            return (connection, try await tx.directory(of: request.tenantID).watermark(request.connectionID))
        }
        return StartedRun(run: run, request: request, connection: connection, watermark: watermark)
    }

    /// Runs a started sync under the engine's deadline and object limit, records its outcome and releases the
    /// lease.
    ///
    /// - Parameters:
    ///   - stopsOnGracefulShutdown: stop the work when the service shuts down gracefully; the run is then recorded
    ///     as failed (the recording itself is not cancelled).
    ///   - onProgress: called with the number of objects read so far, after each page is read.
    /// - Returns: the recorded run (succeeded, failed or needs_confirmation).
    /// - Throws: only when the outcome cannot be recorded (the run stays `running` until a scheduler's cleanup).
    package func run(
        _ started: StartedRun, stopsOnGracefulShutdown: Bool = false,
        onProgress: @escaping @Sendable (Int) async -> Void = { _ in }
    ) async throws -> SyncRun {
        let request = started.request
        let result: Result<SyncRunDecision.Outcome, any Error>
        do {
            if stopsOnGracefulShutdown, Task.isShuttingDownGracefully { throw DirectorySyncError.shutDown }
            result = .success(
                try await withThrowingTaskGroup(of: SyncRunDecision.Outcome?.self) { group in
                    group.addTask {
                        try await renewLease(request)
                        return nil
                    }
                    let deadline = limits.deadline
                    group.addTask {
                        try await Task.sleep(for: deadline)
                        throw DirectorySyncError.deadlineExceeded(deadline)
                    }
                    if stopsOnGracefulShutdown {
                        group.addTask {
                            try await gracefulShutdown()
                            throw DirectorySyncError.shutDown
                        }
                    }
                    group.addTask {
                        try await apply(
                            request, run: started.run.id, connection: started.connection,
                            watermark: started.watermark, onProgress: onProgress
                        )
                    }
                    defer { group.cancelAll() }
                    while let result = try await group.next() {
                        if let outcome = result { return outcome }
                    }
                    throw CancellationError()
                }
            )
        } catch {
            result = .failure(error)
        }
        let run = SyncRunDecision.finish(started.run, with: result)
        if run.status == .failed, case .failure(let error) = result {
            logger.warning(
                "directory sync failed",
                metadata: [
                    "tenant.id": "\(request.tenantID)", "directory.connection": "\(request.connectionID)",
                    "sync.run": "\(run.id)", "error": "\(error)",
                ]
            )
        }
        let recorded = try await record(run, of: started)
        if case .connector = started.connection.transport { await discardUpload(of: recorded.id, request: request) }
        return recorded
    }

    /// Records a started run as failed without running it (the service stopped before it could), and releases
    /// the lease.
    package func fail(_ started: StartedRun, because error: any Error) async throws -> SyncRun {
        try await record(SyncRunDecision.finish(started.run, with: .failure(error)), of: started)
    }

    /// Stores a run's outcome, releases the lease with the next due time, audits it and hints the devices.
    private func record(_ outcome: SyncRun, of started: StartedRun) async throws -> SyncRun {
        let request = started.request
        var run = outcome
        run.finishedAt = Date()
        logger.info(
            "directory sync finished",
            metadata: [
                "tenant.id": "\(request.tenantID)", "directory.connection": "\(request.connectionID)",
                "sync.run": "\(run.id)", "sync.status": "\(run.status.rawValue)",
            ]
        )
        let finished = run
        let interval = TimeInterval(started.connection.interval.components.seconds)
        try await database.withTenant(request.tenantID, msp: request.mspID, logger: logger) { tx in
            try await tx.syncRuns(of: request.tenantID).finish(finished)
            try await tx.directorySyncJobs.release(
                tenant: request.tenantID, connection: request.connectionID, owner: leaseOwner,
                nextRunAt: finished.finishedAt.map { $0 + interval } ?? Date()
            )
            try await tx.audit.record(
                "directory.sync.\(finished.status.rawValue)", on: ("directory_sync_run", finished.id.description),
                after: Self.auditSnapshot(finished),
                by: Caller(principal: nil, actor: request.actor ?? actor, logger: logger),
                at: finished.finishedAt ?? Date(), in: .tenant(request.tenantID)
            )
            // A failed or held run is an alert for the tenant's webhooks (docs/alerts.md).
            if finished.status == .failed || finished.status == .needsConfirmation {
                try await AlertEvent.enqueue(
                    finished.status == .failed ? AlertEvent.syncFailed : AlertEvent.syncHeld, in: request.tenantID,
                    subject: "sync_run", snapshot: Self.auditSnapshot(finished), at: finished.finishedAt ?? Date(),
                    emails: emailsAlerts, tx: tx
                )
            }
            // Which devices a directory change reaches is not worked out here: every device is hinted and
            // fetches, and only those whose content changed get a new version.
            if finished.status == .succeeded, finished.counts.hasChanges {
                try await tx.changeFeed.append(request.tenantID, event: .bundle, devices: nil, data: #"{"reason":"directory"}"#)
            }
        }
        return finished
    }

    /// Keeps the lease alive while the sync runs; ends only by cancellation or by losing the lease.
    private func renewLease(_ request: Request) async throws {
        for await _ in AsyncTimerSequence(interval: leaseDuration / 3, clock: .continuous) {
            let held = try await database.withTenant(request.tenantID, msp: request.mspID, logger: logger) { tx in
                try await tx.directorySyncJobs.renew(
                    tenant: request.tenantID, connection: request.connectionID, owner: leaseOwner, lease: leaseDuration
                )
            }
            guard held else { throw DirectorySyncError.alreadyRunning(request.connectionID) }
        }
        throw CancellationError()
    }

    /// What a read returned, held until it is applied: one element per page.
    struct Read: Sendable {
        var kind: SyncRun.Kind
        var identity: DomainControllerIdentity
        var pages: [[DirectoryEntry]] = []
        var deletions: [[UUID]] = []
        var objectsRead = 0
    }

    private func apply(
        _ request: Request, run: SyncRunID, connection: DirectoryConnection, watermark: StoredWatermark?,
        onProgress: @Sendable (Int) async -> Void
    ) async throws -> SyncRunDecision.Outcome {
        let clock = ContinuousClock()
        let started = clock.now
        let kind = SyncRunDecision.readKind(
            requested: request.kind, lastFullSyncAt: watermark?.lastFullSyncAt, now: Date(),
            fullSyncInterval: fullSyncInterval
        )
        // The one step that differs between the transports: the service reads the DC, or a connector does and
        // uploads what it read.
        let read =
            switch connection.transport {
            case .direct(let settings):
                try await self.read(
                    kind, connection: connection.id, settings: settings, tenant: request.tenantID,
                    watermark: watermark, onProgress: onProgress
                )
            case .connector(let connectors):
                try await readThroughConnector(
                    kind, request: request, run: run, connection: connection, connectors: connectors,
                    watermark: watermark, onProgress: onProgress
                )
            }
        let readDone = clock.now
        // The transaction opens only now that the DC has answered everything: a slow or stalled DC holds no
        // database connection, locks or snapshot.
        let counts = try await database.withTenant(request.tenantID, msp: request.mspID, logger: logger) { tx in
            var staging = tx.directoryStaging(of: request.tenantID, connection: connection.id)
            try await staging.prepare(domainSID: watermark?.domainSID)
            let mode: DirectoryStaging.Mode = read.kind == .full ? .full : .incremental
            for (page, deletions) in zip(read.pages, read.deletions) {
                try await staging.stage(page, mode: mode)
                if !deletions.isEmpty { try await staging.stageDeletions(deletions) }
            }
            let now = Date()
            return try await staging.finish(
                mode, threshold: connection.deletionThreshold, confirmsDeletions: request.confirmsDeletions,
                watermark: StoredWatermark(
                    serviceName: read.identity.serviceName, invocationID: read.identity.invocationID,
                    usn: read.identity.highestCommittedUSN, domainSID: read.identity.domainSID?.description,
                    lastFullSyncAt: now, syncedAt: now
                )
            )
        }
        logger.debug(
            "directory sync applied",
            metadata: [
                "directory.connection": "\(connection.id)", "sync.kind": "\(read.kind.rawValue)",
                "directory.objects": "\(read.objectsRead)", "sync.read": "\(readDone - started)",
                "sync.merge": "\(clock.now - readDone)",
            ]
        )
        return SyncRunDecision.Outcome(
            kind: read.kind, domainController: read.identity.serviceName, objectsRead: read.objectsRead, counts: counts
        )
    }

    /// Reads the changes since the watermark (or everything) from the DC into memory, within the engine's object
    /// limit (`direct` mode).
    private func read(
        _ kind: SyncRun.Kind, connection: DirectoryConnectionID, settings: DirectoryConnection.LDAPSettings,
        tenant: TenantID, watermark: StoredWatermark?, onProgress: @Sendable (Int) async -> Void
    ) async throws -> Read {
        let password: String
        do {
            password = try sealer.openString(
                settings.sealedPassword,
                context: DirectoryConnection.sealingContext(tenant: tenant, connection: connection)
            )
        } catch {
            throw DirectorySyncError.passwordUnavailable(connection)
        }
        var configuration = Self.ldapConfiguration(settings, password: password, destinations: destinations)
        configuration.operationTimeout = operationTimeout
        let ldap = try await LDAPConnection.connect(configuration, threadPool: threadPool, logger: logger)
        defer { ldap.close() }
        let maximumObjects = limits.maximumObjects
        var pages: [[DirectoryEntry]] = []
        var deletions: [[UUID]] = []
        var objectsRead = 0
        let collect: (DirectoryReader.Batch) async throws -> Void = { batch in
            guard batch.progress.objectsRead + batch.progress.tombstonesRead <= maximumObjects else {
                throw DirectorySyncError.objectLimitExceeded(maximumObjects)
            }
            pages.append(batch.objects.map(DirectoryEntry.init))
            deletions.append(batch.deletedGUIDs)
            objectsRead = batch.progress.objectsRead
            await onProgress(objectsRead)
        }
        if kind == .incremental, let watermark {
            let reader = DirectoryReader(
                connection: ldap, baseDN: settings.baseDN, options: readerOptions, logger: logger
            )
            let stored = DirectoryWatermark(
                serviceName: watermark.serviceName, invocationID: watermark.invocationID, usn: watermark.usn
            )
            if case .completed(let identity, _) = try await reader.readIncremental(since: stored, onBatch: collect) {
                return Read(
                    kind: .incremental, identity: identity, pages: pages, deletions: deletions, objectsRead: objectsRead
                )
            }
            // The DC asks for a full read: what an incomplete incremental read staged is dropped.
            pages = []
            deletions = []
            objectsRead = 0
        }
        // A second connection lets the DC answer the two halves of the read at once; without one it is read
        // over the first.
        let second: LDAPConnection?
        do {
            second = try await LDAPConnection.connect(configuration, threadPool: threadPool, logger: logger)
        } catch {
            logger.notice("directory full read over one connection", metadata: ["error": "\(error)"])
            second = nil
        }
        defer { second?.close() }
        let reader = DirectoryReader(
            connection: ldap, secondConnection: second, baseDN: settings.baseDN, options: readerOptions,
            logger: logger
        )
        let identity = try await reader.readFull(onBatch: collect)
        return Read(kind: .full, identity: identity, pages: pages, deletions: deletions, objectsRead: objectsRead)
    }

    /// The LDAP settings of a `direct` connection.
    static func ldapConfiguration(
        _ connection: DirectoryConnection.LDAPSettings, password: String, destinations: DestinationPolicy
    ) -> LDAPConfiguration {
        let security: LDAPConfiguration.TransportSecurity =
            switch connection.tlsMode {
            case .ldaps: .ldaps
            case .startTLS: .startTLS
            case .plain: .plain
            }
        return LDAPConfiguration(
            urls: connection.urls, transportSecurity: security,
            trustRoots: connection.caPEM.map { .pem($0) } ?? .system, bindDN: connection.bindDN, password: password,
            connectTimeout: .seconds(10), operationTimeout: .seconds(60), destinations: destinations
        )
    }

    static func auditSnapshot(_ run: SyncRun) -> String {
        var snapshot: [String: any Sendable] = [
            "id": run.id.description, "connection_id": run.connectionID.description, "kind": run.kind.rawValue,
            "status": run.status.rawValue, "trigger": run.trigger.rawValue, "objects_read": run.objectsRead,
        ]
        if let pending = run.pendingDeletions { snapshot["pending_deletions"] = pending }
        if let error = run.error { snapshot["error"] = error }
        return AuditJSON.encode(snapshot)
    }
}
