package import CharterBundle
package import CharterCore
package import CharterDirectory
package import CharterStore
import Foundation
package import Logging
package import NIOPosix

/// Runs one directory sync of one connection: read from the DC, stage, merge, record.
///
/// The whole change to the stored directory (objects, member edges, closure, watermark) is one transaction;
/// a failure anywhere (LDAP error, DC gone mid-read, database error, deletion guard) rolls it back and the run
/// is recorded as failed or `needs_confirmation` in a transaction of its own. The connection's lease is held
/// for the duration (and renewed), so the API, the CLI and any number of schedulers never sync one
/// connection twice at once.
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

    let database: Database
    /// Seals and opens bind passwords.
    package let sealer: SecretSealer
    let threadPool: NIOThreadPool
    let logger: Logger
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

    package init(
        database: Database, sealer: SecretSealer, threadPool: NIOThreadPool, logger: Logger,
        leaseOwner: String = "charter-\(UUID().uuidString.lowercased())", leaseDuration: Duration = .seconds(300),
        actor: AuditRecord.Actor = AuditRecord.Actor(id: nil, name: "directory sync"),
        readerOptions: DirectoryReader.Options = DirectoryReader.Options(), destinations: DestinationPolicy,
        operationTimeout: Duration = .seconds(60)
    ) {
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
    /// - Parameter onProgress: called with the number of objects read so far, after each page is merged; the
    ///   next page is read meanwhile.
    /// - Throws: ``DirectorySyncError/alreadyRunning(_:)`` when the connection is leased elsewhere,
    ///   `StoreError.notFound` for an unknown connection; failures after the run started are recorded, not thrown.
    package func sync(
        _ request: Request, onProgress: @Sendable (Int) async -> Void = { _ in }
    ) async throws -> SyncRun {
        let startedAt = Date()
        var run = SyncRun(
            id: .random(), connectionID: request.connectionID, kind: request.kind, status: .running,
            trigger: request.trigger, confirmsDeletions: request.confirmsDeletions, startedAt: startedAt
        )
        let (connection, watermark) = try await database.withTenant(
            request.tenantID, msp: request.mspID, logger: logger
        ) { tx in
            let connection = try await tx.directoryConnections(of: request.tenantID).get(request.connectionID)
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
        var metadata: Logger.Metadata = [
            "tenant.id": "\(request.tenantID)", "directory.connection": "\(request.connectionID)",
            "sync.run": "\(run.id)",
        ]
        do {
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await renewLease(request) }
                let outcome = try await apply(request, connection: connection, watermark: watermark, onProgress: onProgress)
                group.cancelAll()
                run.kind = outcome.kind
                run.domainController = outcome.domainController
                run.objectsRead = outcome.objectsRead
                run.counts = outcome.counts
            }
            run.status = .succeeded
        } catch let tripped as DirectoryStaging.DeletionGuardTripped {
            run.status = .needsConfirmation
            run.counts = tripped.counts
            run.pendingDeletions = tripped.pendingDeletions
            run.error =
                "The sync would delete \(tripped.pendingDeletions) objects, more than the \(tripped.allowedDeletions) "
                + "the connection's deletion threshold allows; nothing was changed. Confirm to apply."
        } catch {
            run.status = .failed
            run.error = Self.message(for: error)
            logger.warning("directory sync failed", metadata: metadata.merging(["error": "\(error)"]) { $1 })
        }
        run.finishedAt = Date()
        metadata["sync.status"] = "\(run.status.rawValue)"
        logger.info("directory sync finished", metadata: metadata)
        let finished = run
        try await database.withTenant(request.tenantID, msp: request.mspID, logger: logger) { tx in
            try await tx.syncRuns(of: request.tenantID).finish(finished)
            try await tx.directorySyncJobs.release(
                tenant: request.tenantID, connection: request.connectionID, owner: leaseOwner,
                nextRunAt: finished.finishedAt.map { $0 + TimeInterval(connection.interval.components.seconds) }
                    ?? Date()
            )
            try await tx.audit.append(
                AuditRecord(
                    occurredAt: finished.finishedAt ?? Date(), actor: request.actor ?? actor, action: "directory.sync.\(finished.status.rawValue)",
                    targetType: "directory_sync_run", targetID: finished.id.description,
                    after: Self.auditSnapshot(finished)
                ),
                to: .tenant(request.tenantID)
            )
            // Which devices a directory change reaches is not worked out here: every device is hinted and
            // fetches, and only those whose content changed get a new version.
            if finished.status == .succeeded, finished.counts.hasChanges {
                try await tx.changeFeed.append(request.tenantID, event: .bundle, devices: nil, data: #"{"reason":"directory"}"#)
            }
        }
        return finished
    }

    private struct Outcome: Sendable {
        var kind: SyncRun.Kind
        var domainController: String
        var objectsRead: Int
        var counts: SyncCounts
    }

    /// Keeps the lease alive while the sync runs; ends only by cancellation or by losing the lease.
    private func renewLease(_ request: Request) async throws {
        while true {
            try await Task.sleep(for: leaseDuration / 3)
            let held = try await database.withTenant(request.tenantID, msp: request.mspID, logger: logger) { tx in
                try await tx.directorySyncJobs.renew(
                    tenant: request.tenantID, connection: request.connectionID, owner: leaseOwner, lease: leaseDuration
                )
            }
            guard held else { throw DirectorySyncError.alreadyRunning(request.connectionID) }
        }
    }

    private func apply(
        _ request: Request, connection: DirectoryConnection, watermark: StoredWatermark?,
        onProgress: @Sendable (Int) async -> Void
    ) async throws -> Outcome {
        let password: String
        do {
            password = try sealer.openString(
                connection.sealedPassword,
                context: DirectoryConnection.sealingContext(tenant: request.tenantID, connection: connection.id)
            )
        } catch {
            throw DirectorySyncError.passwordUnavailable(connection.id)
        }
        var configuration = Self.ldapConfiguration(connection, password: password, destinations: destinations)
        configuration.operationTimeout = operationTimeout
        let ldap = try await LDAPConnection.connect(configuration, threadPool: threadPool, logger: logger)
        defer { ldap.close() }
        let reader = DirectoryReader(
            connection: ldap, baseDN: connection.baseDN, options: readerOptions, logger: logger
        )
        let clock = ContinuousClock()
        let started = clock.now
        return try await database.withTenant(request.tenantID, msp: request.mspID, logger: logger) { tx in
            var staging = tx.directoryStaging(of: request.tenantID, connection: connection.id)
            var kind = request.kind
            var identity: DomainControllerIdentity?
            var objectsRead = 0
            var isPrepared = false
            // The staging tables and the stored graph are prepared while the DC answers the first request.
            let prepare: () async throws -> Void = {
                guard !isPrepared else { return }
                try await staging.prepare(domainSID: watermark?.domainSID)
                isPrepared = true
            }
            if kind == .incremental, let watermark,
                watermark.lastFullSyncAt.addingTimeInterval(fullSyncInterval) > Date()
            {
                let stored = DirectoryWatermark(
                    serviceName: watermark.serviceName, invocationID: watermark.invocationID, usn: watermark.usn
                )
                let result = try await Self.pipeline(prepare: prepare) { onBatch in
                    try await reader.readIncremental(since: stored, onBatch: onBatch)
                } merge: { batch in
                    try await staging.stage(batch.objects.map(DirectoryEntry.init), mode: .incremental)
                    try await staging.stageDeletions(batch.deletedGUIDs)
                    objectsRead = batch.progress.objectsRead
                    await onProgress(objectsRead)
                }
                if case .completed(let read, _) = result { identity = read }
            }
            if identity == nil {
                kind = .full
                // A second connection lets the DC answer the two halves of the read at once; without one it is
                // read over the first.
                let second: LDAPConnection?
                do {
                    second = try await LDAPConnection.connect(configuration, threadPool: threadPool, logger: logger)
                } catch {
                    logger.notice("directory full read over one connection", metadata: ["error": "\(error)"])
                    second = nil
                }
                defer { second?.close() }
                let reader = DirectoryReader(
                    connection: ldap, secondConnection: second, baseDN: connection.baseDN, options: readerOptions,
                    logger: logger
                )
                identity = try await Self.pipeline(prepare: prepare) { onBatch in
                    try await reader.readFull(onBatch: onBatch)
                } merge: { batch in
                    try await staging.stage(batch.objects.map(DirectoryEntry.init), mode: .full)
                    objectsRead = batch.progress.objectsRead
                    await onProgress(objectsRead)
                }
            }
            // Both branches above leave `identity` set; a full read always yields one.
            guard let identity else { throw CancellationError() }
            let read = clock.now
            let now = Date()
            let counts = try await staging.finish(
                kind == .full ? .full : .incremental, threshold: connection.deletionThreshold,
                confirmsDeletions: request.confirmsDeletions,
                watermark: StoredWatermark(
                    serviceName: identity.serviceName, invocationID: identity.invocationID,
                    usn: identity.highestCommittedUSN, domainSID: identity.domainSID?.description,
                    lastFullSyncAt: now, syncedAt: now
                )
            )
            logger.debug(
                "directory sync applied",
                metadata: [
                    "directory.connection": "\(connection.id)", "sync.kind": "\(kind.rawValue)",
                    "directory.objects": "\(objectsRead)", "sync.read_and_merge": "\(read - started)",
                    "sync.finish": "\(clock.now - read)",
                ]
            )
            return Outcome(kind: kind, domainController: identity.serviceName, objectsRead: objectsRead, counts: counts)
        }
    }

    /// Reads in a child task while this task merges each batch: LDAP (the DC, decoding) and PostgreSQL overlap.
    ///
    /// The reader runs at most two batches ahead of the merge (plus the page its connection reads ahead), so a
    /// slow database holds the reader back instead of filling memory with the directory.
    ///
    /// - Parameters:
    ///   - prepare: run by this task before the first merge, while the reader already waits for the DC.
    ///   - read: the read, handing batches to the closure it is given.
    ///   - merge: called once per batch, in order.
    /// - Returns: what `read` returned.
    private static func pipeline<Value: Sendable>(
        prepare: () async throws -> Void,
        read: @escaping @Sendable (_ onBatch: (DirectoryReader.Batch) async throws -> Void) async throws -> Value,
        merge: (DirectoryReader.Batch) async throws -> Void
    ) async throws -> Value {
        let (batches, batchSink) = AsyncStream.makeStream(of: DirectoryReader.Batch.self)
        let (credits, creditSink) = AsyncStream.makeStream(of: Void.self)
        for _ in 0..<2 { creditSink.yield(()) }
        return try await withThrowingTaskGroup(of: Value.self) { group in
            group.addTask {
                defer { batchSink.finish() }
                var creditsLeft = credits.makeAsyncIterator()
                return try await read { batch in
                    // Ends with nil when the merge stopped (it failed, or the task was cancelled).
                    guard await creditsLeft.next(isolation: #isolation) != nil else { throw CancellationError() }
                    batchSink.yield(batch)
                }
            }
            do {
                try await prepare()
                for await batch in batches {
                    try await merge(batch)
                    creditSink.yield(())
                }
            } catch {
                creditSink.finish()
                throw error
            }
            guard let value = try await group.next() else { throw CancellationError() }
            return value
        }
    }

    /// The LDAP settings of a connection.
    static func ldapConfiguration(
        _ connection: DirectoryConnection, password: String, destinations: DestinationPolicy
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

    /// The text recorded for a failed run, which the tenant reads: a category (the operation and libldap's
    /// name for the result code, or the policy's reason), never the server's diagnostic text or SQL. The log
    /// has the full error.
    static func message(for error: any Error) -> String {
        switch error {
        case let error as LDAPError:
            if let refusal = error.refusal {
                "LDAP: \(error.operation) refused by the outbound policy (\(refusal.reason.rawValue) address)"
            } else {
                "LDAP: \(error.operation) failed: \(error.code)"
            }
        case let error as ActiveDirectoryError: "Active Directory: \(error)"
        case DirectorySyncError.passwordUnavailable:
            "The bind password cannot be opened with the configured key-encryption keys (CHARTER_KEK)."
        case DirectorySyncError.alreadyRunning: "The connection's lease was lost to another process."
        case let error as StoreError: "Database: \(error)"
        default: "Sync failed: \(String(describing: type(of: error)))"
        }
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
