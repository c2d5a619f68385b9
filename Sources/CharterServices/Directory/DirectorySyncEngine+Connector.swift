import AsyncAlgorithms
import CharterAgentWire
import CharterCore
import CharterDirectory
import CharterStore
import Foundation
import Logging
import NIOCore

/// The connector transport (docs/connector-protocol.md, "Runs, failures and takeover"): the run is assigned to
/// the connection's active connector, which reads the DC at the site and uploads pages; the engine waits for the
/// upload and hands what it holds to the same merge as a direct read.
extension DirectorySyncEngine {
    /// How often the engine looks at a waiting upload: one short read per tick; what a tick costs an incremental
    /// run is half of it on average.
    static let uploadPollInterval: Duration = .milliseconds(100)

    /// Assigns the run to the active connector, waits for its upload and decodes it into a ``Read``.
    ///
    /// - Throws: ``DirectorySyncError/noConnectorOnline(_:)`` when no connector of the connection holds the lease
    ///   within ``Limits/connectorGrace``, ``DirectorySyncError/connectorFailed(_:)`` when the connector reported an error or its upload
    ///   cannot be merged, ``DirectorySyncError/objectLimitExceeded(_:)``; the run's deadline ends the wait.
    func readThroughConnector(
        _ kind: SyncRun.Kind, request: Request, run: SyncRunID, connection: DirectoryConnection,
        connectors: [ConnectorID], watermark: StoredWatermark?, onProgress: @Sendable (Int) async -> Void
    ) async throws -> Read {
        let tenant = request.tenantID
        try await awaitActiveConnector(of: connection.id, request: request, connectors: connectors)
        try await database.withTenant(tenant, msp: request.mspID, logger: logger) { tx in
            let uploads = tx.connectorUploads(of: tenant)
            let lease = try await uploads.activeConnector(of: connection.id)
            guard let connector = ConnectorRunDecision.assignee(lease: lease, serving: connectors) else {
                let presence = try await uploads.connectors(connectors)
                throw DirectorySyncError.noConnectorOnline(ConnectorRunDecision.offlineMessage(presence))
            }
            let now = Date()
            try await uploads.insert(
                ConnectorUpload(
                    runID: run, connectionID: connection.id, connectorID: connector, state: .waiting,
                    requestedKind: kind, deadlineAt: now.addingTimeInterval(Self.seconds(limits.deadline)),
                    assignedAt: now, updatedAt: now
                )
            )
            try await Self.hintSync(run, to: connector, in: tx, tenant: tenant)
        }
        try await waitForUpload(run, request: request, connectors: connectors)
        return try await loadUpload(run, request: request, watermark: watermark, onProgress: onProgress)
    }

    /// Returns once a connector of the connection holds its lease, or after ``Limits/connectorGrace``.
    ///
    /// When none holds it, the connectors are told to heartbeat now (a `configuration` hint), so one that is
    /// online but has not heartbeated since the connection named it (a connection made a moment ago, a
    /// connector just started) takes the lease within the grace instead of the run failing as offline.
    private func awaitActiveConnector(
        of connection: DirectoryConnectionID, request: Request, connectors: [ConnectorID]
    ) async throws {
        let tenant = request.tenantID
        let held = try await database.withTenant(tenant, msp: request.mspID, logger: logger) { tx in
            let lease = try await tx.connectorUploads(of: tenant).activeConnector(of: connection)
            guard ConnectorRunDecision.assignee(lease: lease, serving: connectors) == nil else { return true }
            try await tx.changeFeed.append(tenant, connectorEvent: "configuration", to: connectors)
            return false
        }
        guard !held, limits.connectorGrace > .zero else { return }
        let clock = ContinuousClock()
        let deadline = clock.now + limits.connectorGrace
        for await tick in AsyncTimerSequence(interval: Self.uploadPollInterval, clock: clock) {
            let lease = try await database.withTenant(tenant, msp: request.mspID, logger: logger) { tx in
                try await tx.connectorUploads(of: tenant).activeConnector(of: connection)
            }
            if ConnectorRunDecision.assignee(lease: lease, serving: connectors) != nil || tick >= deadline { return }
        }
        throw CancellationError()
    }

    /// Waits, holding no transaction, until the upload is complete, handing the run over when the lease moves and
    /// failing the run as offline once no connector of the connection has held the lease for ``Limits/connectorGrace``.
    private func waitForUpload(_ run: SyncRunID, request: Request, connectors: [ConnectorID]) async throws {
        let tenant = request.tenantID
        let clock = ContinuousClock()
        var lastHeld = clock.now
        for await tick in AsyncTimerSequence(interval: Self.uploadPollInterval, clock: clock) {
            let progress = try await database.withTenant(tenant, msp: request.mspID, logger: logger) { tx in
                try await tx.connectorUploads(of: tenant).progress(of: run)
            }
            guard let progress else { throw StoreError.notFound }
            if ConnectorRunDecision.assignee(lease: progress.activeConnectorID, serving: connectors) != nil {
                lastHeld = tick
            }
            let step = ConnectorRunDecision.next(
                progress, serving: connectors, unheldFor: tick - lastHeld, grace: limits.connectorGrace
            )
            switch step {
            case .wait:
                continue
            case .load:
                return
            case .fail(let message):
                throw DirectorySyncError.connectorFailed(message)
            case .offline:
                let presence = try await database.withTenant(tenant, msp: request.mspID, logger: logger) { tx in
                    try await tx.connectorUploads(of: tenant).connectors(connectors)
                }
                throw DirectorySyncError.noConnectorOnline(ConnectorRunDecision.offlineMessage(presence))
            case .reassign(let connector):
                try await database.withTenant(tenant, msp: request.mspID, logger: logger) { tx in
                    let uploads = tx.connectorUploads(of: tenant)
                    // Locked, and looked at again: a page or completion that arrived meanwhile is not lost silently.
                    guard let upload = try await uploads.get(run, locking: true), upload.state == .waiting,
                        upload.connectorID != connector
                    else { return }
                    try await uploads.reassign(run, to: connector, at: Date())
                    try await Self.hintSync(run, to: connector, in: tx, tenant: tenant)
                }
                logger.notice(
                    "directory sync handed to another connector",
                    metadata: ["sync.run": "\(run)", "connector.id": "\(connector)"]
                )
            }
        }
        throw CancellationError()
    }

    /// Loads a complete upload's pages, checking them as a direct read is checked; they are merged in page order.
    ///
    /// A page this process's upload route decoded is taken from ``connectorPages`` by its stored SHA-256; the
    /// others (stored by another replica, dropped from the cache, or stored under another digest) are read from
    /// the store and decoded again (several at once), and refused unless their JSON has the stored digest.
    private func loadUpload(
        _ run: SyncRunID, request: Request, watermark: StoredWatermark?, onProgress: @Sendable (Int) async -> Void
    ) async throws -> Read {
        let tenant = request.tenantID
        let cache = connectorPages
        let (upload, pages, cached, stored) = try await database.withTenant(tenant, msp: request.mspID, logger: logger) { tx in
            let uploads = tx.connectorUploads(of: tenant)
            guard let upload = try await uploads.get(run) else { throw StoreError.notFound }
            let pages = try await uploads.pagesWithoutBodies(of: run)
            var cached: [Int: ConnectorPageCodec.Decoded] = [:]
            for page in pages {
                cached[page.page] = cache.decoded(page: page.page, sha256: page.sha256, of: run, tenant: tenant)
            }
            let missing = pages.map(\.page).filter { cached[$0] == nil }
            let stored = missing.isEmpty ? [] : try await uploads.pages(of: run, numbered: missing)
            return (upload, pages, cached, stored)
        }
        guard let text = upload.completion,
            let completion = try? JSONDecoder().decode(ConnectorRunCompletion.self, from: Data(text.utf8)),
            pages.map(\.page) == Array(stride(from: 1, through: completion.pages, by: 1)),
            stored.count + cached.count == pages.count
        else { throw DirectorySyncError.connectorFailed("the connector's upload is incomplete") }
        // The counts the upload route stored bound the upload before anything is decoded.
        guard pages.reduce(0, { $0 + $1.objects }) <= limits.maximumObjects else {
            throw DirectorySyncError.objectLimitExceeded(limits.maximumObjects)
        }
        var decoded = cached
        for (page, result) in zip(stored, try await Self.decode(stored)) { decoded[page.page] = result }
        var read = Read(kind: completion.kind == .full ? .full : .incremental, identity: Self.identity(completion))
        var items = 0
        for page in pages {
            guard let page = decoded[page.page] else {
                throw DirectorySyncError.connectorFailed("the connector's upload is incomplete")
            }
            items += page.entries.count + page.deletions.count
            guard items <= limits.maximumObjects else {
                throw DirectorySyncError.objectLimitExceeded(limits.maximumObjects)
            }
            read.pages.append(page.entries)
            read.deletions.append(page.deletions)
            read.objectsRead += page.entries.count
            await onProgress(read.objectsRead)
        }
        if let refusal = ConnectorRunDecision.refusal(
            of: completion, requested: upload.requestedKind, watermark: watermark,
            hasDeletions: read.deletions.contains { !$0.isEmpty }
        ) {
            if completion.kind == .incremental {
                // The next run asks for a full read (docs/connector-protocol.md, "Finish").
                try await database.withTenant(tenant, msp: request.mspID, logger: logger) { tx in
                    try await tx.directory(of: tenant).requireFullSync(request.connectionID)
                }
            }
            throw DirectorySyncError.connectorFailed(refusal)
        }
        return read
    }

    /// Decodes pages several at once, one per core, and returns them in the order given.
    ///
    /// - Throws: ``DirectorySyncError/connectorFailed(_:)`` naming a page that cannot be read.
    static func decode(_ pages: [ConnectorUploadPage]) async throws -> [ConnectorPageCodec.Decoded] {
        let width = max(1, ProcessInfo.processInfo.activeProcessorCount)
        return try await withThrowingTaskGroup(of: (Int, ConnectorPageCodec.Decoded).self) { group in
            var decoded = [ConnectorPageCodec.Decoded?](repeating: nil, count: pages.count)
            var next = 0
            while next < min(width, pages.count) {
                group.addTask { [next] in (next, try decode(pages[next])) }
                next += 1
            }
            while let (index, page) = try await group.next() {
                decoded[index] = page
                if next < pages.count {
                    group.addTask { [next] in (next, try decode(pages[next])) }
                    next += 1
                }
            }
            return decoded.compactMap(\.self)
        }
    }

    /// Decompresses and decodes one stored page, whose JSON must have the stored digest.
    private static func decode(_ page: ConnectorUploadPage) throws -> ConnectorPageCodec.Decoded {
        let decoded: ConnectorPageCodec.Decoded
        do {
            let json = try ConnectorPageCodec.inflate(ByteBuffer(bytes: page.body), isGzip: page.isGzip)
            decoded = try ConnectorPageCodec.decode(json)
        } catch {
            throw DirectorySyncError.connectorFailed("page \(page.page) of the connector's upload cannot be read")
        }
        guard decoded.sha256 == page.sha256 else {
            throw DirectorySyncError.connectorFailed("page \(page.page) of the connector's upload cannot be read")
        }
        return decoded
    }

    /// Drops the pages of a finished run: what was merged is in the directory, what failed is read again.
    func discardUpload(of run: SyncRunID, request: Request) async {
        connectorPages.discard(run: run, tenant: request.tenantID)
        do {
            try await database.withTenant(request.tenantID, msp: request.mspID, logger: logger) { tx in
                try await tx.connectorUploads(of: request.tenantID).discardPages(of: run)
            }
        } catch {
            logger.warning("connector upload not discarded", metadata: ["sync.run": "\(run)", "error": "\(error)"])
        }
    }

    /// Tells a connector that a run waits for it (a `sync` hint on its stream).
    static func hintSync(_ run: SyncRunID, to connector: ConnectorID, in tx: Transaction, tenant: TenantID) async throws {
        try await tx.changeFeed.append(tenant, connectorEvent: "sync", data: #"{"run_id":"\#(run)"}"#, to: [connector])
    }

    /// The DC a completion names, as the merge and the watermark take it.
    static func identity(_ completion: ConnectorRunCompletion) -> DomainControllerIdentity {
        let dc = completion.domainController
        return DomainControllerIdentity(
            serviceName: dc.serviceName, invocationID: dc.invocationID, highestCommittedUSN: dc.highestCommittedUSN,
            defaultNamingContext: dc.defaultNamingContext, dnsHostName: dc.dnsHostName,
            domainSID: dc.domainSID.flatMap(SecurityIdentifier.init)
        )
    }

    static func seconds(_ duration: Duration) -> TimeInterval {
        TimeInterval(duration.components.seconds) + TimeInterval(duration.components.attoseconds) / 1e18
    }
}
