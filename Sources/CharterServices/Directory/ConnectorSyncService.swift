package import CharterAgentWire
package import CharterCore
import CharterDirectory
package import CharterStore
package import Foundation
package import Logging
package import NIOCore

/// The data side of the connector protocol (docs/connector-protocol.md, "Work", "Upload", "Finish"): the runs
/// that wait for a connector, the pages it uploads, and how it finishes a run.
///
/// The sync engine (``DirectorySyncEngine``) assigns runs and merges what was uploaded; this service only
/// stores. Each call is one transaction opened from the connector's own tenant binding, so row-level security
/// confines it to its tenant; within it, a connector touches only runs assigned to it. Nothing of a refused
/// call is stored. The enrollment, tokens, heartbeat and stream of connectors are elsewhere.
package struct ConnectorSyncService: Sendable {
    /// The highest page number a run may have.
    package static let maximumPages = 100_000

    let database: Database
    /// The engine's limits, which a connector's read must keep to (`maximum_objects` in its work).
    let limits: DirectorySyncEngine.Limits
    /// Objects per page the connector is asked to read (`page_size` in its work).
    let pageSize: Int
    /// Where a stored page's decoded form is kept for the engine's merge (``DirectorySyncEngine/connectorPages``),
    /// so it is not decoded a second time.
    let pageCache: ConnectorPageCache?
    let now: @Sendable () -> Date

    package init(
        database: Database, limits: DirectorySyncEngine.Limits = .init(), pageSize: Int = 1000,
        pageCache: ConnectorPageCache? = nil, now: @escaping @Sendable () -> Date = { Date() }
    ) {
        self.database = database
        self.limits = limits
        self.pageSize = pageSize
        self.pageCache = pageCache
        self.now = now
    }

    // MARK: - Work

    /// The runs assigned to the connector that wait for its upload (`GET /v1/connector/work`).
    package func work(for connector: AuthenticatedConnector, logger: Logger) async throws -> ConnectorWork {
        try await database.withTenant(connector.binding, logger: logger) { tx in
            let waiting = try await tx.connectorUploads(of: connector.tenant).waiting(for: connector.connector)
            var runs: [ConnectorRunAssignment] = []
            for (upload, pagesReceived) in waiting {
                let stored =
                    upload.requestedKind == .incremental
                    ? try await tx.directory(of: connector.tenant).watermark(upload.connectionID) : nil
                runs.append(
                    ConnectorRunAssignment(
                        runID: upload.runID.description, connectionID: upload.connectionID.description,
                        kind: stored == nil ? .full : .incremental,
                        watermark: stored.map {
                            ConnectorWatermark(dcServiceName: $0.serviceName, invocationID: $0.invocationID, usn: $0.usn)
                        },
                        pageSize: pageSize, maximumObjects: limits.maximumObjects, deadlineAt: upload.deadlineAt,
                        pagesReceived: pagesReceived
                    )
                )
            }
            return ConnectorWork(runs: runs)
        }
    }

    // MARK: - Upload

    /// Stores one page of a run (`PUT /v1/connector/runs/{run}/pages/{page}`), idempotently.
    ///
    /// The page is decompressed (within 64 MiB) and checked before anything is stored; the same page again
    /// answers as the first time did. A page stored is kept decoded in ``pageCache`` once its transaction
    /// committed.
    ///
    /// - Parameters:
    ///   - body: the body as sent; `isGzip` when its `Content-Encoding` is gzip.
    /// - Throws: ``ConnectorRunError``: `tooLarge`, `malformed`, `invalid` for the page; `notFound` for a run
    ///   that is not this connector's; `runClosed` for a run that no longer waits for it; `pageConflict` for a
    ///   different page under a number the service holds.
    package func uploadPage(
        _ page: Int, of run: SyncRunID, body: ByteBuffer, isGzip: Bool, by connector: AuthenticatedConnector,
        logger: Logger
    ) async throws -> DirectoryPageReceipt {
        guard (1...Self.maximumPages).contains(page) else {
            throw ConnectorRunError.malformed("page must be from 1 to \(Self.maximumPages).", field: "page")
        }
        let json = try ConnectorPageCodec.inflate(body, isGzip: isGzip)
        let decoded = try ConnectorPageCodec.decode(json)
        let now = now()
        let (receipt, stored) = try await database.withTenant(connector.binding, logger: logger) { tx in
            let uploads = tx.connectorUploads(of: connector.tenant)
            let (upload, isOpen) = try await Self.assigned(run, to: connector, in: tx)
            if let held = try await uploads.pageDigest(of: run, page: page) {
                guard held == decoded.sha256 else {
                    throw isOpen ? ConnectorRunError.pageConflict(page) : ConnectorRunError.runClosed
                }
                let received = try await Self.pagesReceived(upload, tenant: connector.tenant, in: tx)
                return (DirectoryPageReceipt(page: page, pagesReceived: received), false)
            }
            guard isOpen else { throw ConnectorRunError.runClosed }
            try await uploads.insertPage(
                ConnectorUploadPage(
                    page: page, sha256: decoded.sha256, isGzip: isGzip, body: Data(body.readableBytesView),
                    objects: decoded.entries.count + decoded.deletions.count
                ),
                of: run, at: now
            )
            return (DirectoryPageReceipt(page: page, pagesReceived: try await uploads.pageNumbers(of: run).count), true)
        }
        if stored { pageCache?.insert(decoded, page: page, of: run, tenant: connector.tenant) }
        return receipt
    }

    // MARK: - Finish

    /// Records that every page of a run is uploaded (`POST /v1/connector/runs/{run}/complete`); the engine then
    /// merges it. Repeating the same completion answers the same.
    ///
    /// - Throws: ``ConnectorRunError``: `invalid` for a value out of range, `pagesMissing` with the numbers of
    ///   pages 1…`pages` not held, `notFound`, `runClosed` (a different completion of a completed run included).
    package func complete(
        _ run: SyncRunID, with completion: ConnectorRunCompletion, by connector: AuthenticatedConnector, logger: Logger
    ) async throws -> ConnectorRunStatus {
        try Self.check(completion)
        let now = now()
        return try await database.withTenant(connector.binding, logger: logger) { tx in
            let uploads = tx.connectorUploads(of: connector.tenant)
            let (upload, isOpen) = try await Self.assigned(run, to: connector, in: tx)
            if upload.state == .complete, let stored = upload.completion,
                (try? JSONDecoder().decode(ConnectorRunCompletion.self, from: Data(stored.utf8))) == completion
            {
                return try await Self.status(upload, tenant: connector.tenant, in: tx)
            }
            guard isOpen else { throw ConnectorRunError.runClosed }
            let held = try await uploads.pageNumbers(of: run)
            let missing = Array(Set(1...max(completion.pages, 1)).subtracting(held)).sorted()
                .filter { $0 <= completion.pages }
            guard missing.isEmpty else { throw ConnectorRunError.pagesMissing(missing) }
            if let beyond = held.last, beyond > completion.pages {
                throw ConnectorRunError.invalid(
                    "The service holds page \(beyond) of this run, beyond the \(completion.pages) pages completed.",
                    field: "/pages"
                )
            }
            let encoded = String(decoding: try JSONEncoder().encode(completion), as: UTF8.self)
            try await uploads.complete(run, completion: encoded, at: now)
            var completed = upload
            completed.state = .complete
            completed.completion = encoded
            return try await Self.status(completed, tenant: connector.tenant, in: tx)
        }
    }

    /// Records that the connector could not read the run (`POST /v1/connector/runs/{run}/fail`); the engine
    /// records the run as failed with `connector "<name>": <error>`.
    ///
    /// - Throws: ``ConnectorRunError``: `invalid` for an error text that is empty, longer than 1000 characters
    ///   or holds U+0000; `notFound`; `runClosed`.
    package func fail(
        _ run: SyncRunID, with failure: ConnectorRunFailure, by connector: AuthenticatedConnector, logger: Logger
    ) async throws -> ConnectorRunStatus {
        guard (1...1000).contains(failure.error.count), !failure.error.unicodeScalars.contains("\0") else {
            throw ConnectorRunError.invalid("error must have 1 to 1000 characters and no U+0000.", field: "/error")
        }
        let now = now()
        return try await database.withTenant(connector.binding, logger: logger) { tx in
            let (upload, isOpen) = try await Self.assigned(run, to: connector, in: tx)
            if upload.state == .failed, upload.error == failure.error {
                return try await Self.status(upload, tenant: connector.tenant, in: tx)
            }
            guard isOpen else { throw ConnectorRunError.runClosed }
            try await tx.connectorUploads(of: connector.tenant).fail(run, error: failure.error, at: now)
            var failed = upload
            failed.state = .failed
            failed.error = failure.error
            return try await Self.status(failed, tenant: connector.tenant, in: tx)
        }
    }

    /// Where a run assigned to the connector stands (`GET /v1/connector/runs/{run}`).
    ///
    /// - Throws: ``ConnectorRunError/notFound``, ``ConnectorRunError/runClosed`` for a run handed to another
    ///   connector.
    package func status(
        of run: SyncRunID, for connector: AuthenticatedConnector, logger: Logger
    ) async throws -> ConnectorRunStatus {
        try await database.withTenant(connector.binding, logger: logger) { tx in
            let (upload, _) = try await Self.assigned(run, to: connector, in: tx)
            return try await Self.status(upload, tenant: connector.tenant, in: tx)
        }
    }

    // MARK: - Shared steps

    /// The run's upload, locked, if it is assigned to `connector`, and whether it still takes pages.
    ///
    /// - Throws: ``ConnectorRunError/notFound`` for a run that does not exist for this connector: none, another
    ///   tenant's (invisible under row-level security), or one of a connection that does not name it;
    ///   ``ConnectorRunError/runClosed`` for a run of a connection it serves that was handed to another connector.
    private static func assigned(
        _ run: SyncRunID, to connector: AuthenticatedConnector, in tx: Transaction
    ) async throws -> (upload: ConnectorUpload, isOpen: Bool) {
        let uploads = tx.connectorUploads(of: connector.tenant)
        guard let upload = try await uploads.get(run, locking: true) else { throw ConnectorRunError.notFound }
        guard upload.connectorID == connector.connector else {
            let serves = try await uploads.serves(connector.connector, connection: upload.connectionID)
            throw serves ? ConnectorRunError.runClosed : ConnectorRunError.notFound
        }
        let status = try await tx.syncRuns(of: connector.tenant).get(run).status
        return (upload, upload.state == .waiting && status == .running)
    }

    /// How many pages the service holds of a run: those stored, or all once completed (its pages are dropped
    /// after the merge).
    private static func pagesReceived(
        _ upload: ConnectorUpload, tenant: TenantID, in tx: Transaction
    ) async throws -> Int {
        if upload.state == .complete, let stored = upload.completion,
            let completion = try? JSONDecoder().decode(ConnectorRunCompletion.self, from: Data(stored.utf8))
        {
            return completion.pages
        }
        return try await tx.connectorUploads(of: tenant).pageNumbers(of: upload.runID).count
    }

    private static func status(
        _ upload: ConnectorUpload, tenant: TenantID, in tx: Transaction
    ) async throws -> ConnectorRunStatus {
        let run = try await tx.syncRuns(of: tenant).get(upload.runID)
        let status =
            switch (run.status, upload.state) {
            case (.running, .waiting): "running"
            case (.running, .complete): "applying"
            case (.running, .failed): "failed"
            default: run.status.rawValue
            }
        let received = try await pagesReceived(upload, tenant: tenant, in: tx)
        return ConnectorRunStatus(runID: upload.runID.description, status: status, pagesReceived: received)
    }

    /// Checks the values of a completion.
    private static func check(_ completion: ConnectorRunCompletion) throws(ConnectorRunError) {
        let dc = completion.domainController
        guard (0...maximumPages).contains(completion.pages) else {
            throw .invalid("pages must be from 0 to \(maximumPages).", field: "/pages")
        }
        guard completion.objectsRead >= 0 else { throw .invalid("objects_read must be at least 0.", field: "/objects_read") }
        guard completion.tombstonesRead >= 0 else {
            throw .invalid("tombstones_read must be at least 0.", field: "/tombstones_read")
        }
        _ = try ConnectorPageRules.text(dc.serviceName, 1...2000, at: "/domain_controller/service_name")
        _ = try ConnectorPageRules.text(
            dc.defaultNamingContext, 1...2000, at: "/domain_controller/default_naming_context"
        )
        _ = try ConnectorPageRules.optional(dc.dnsHostName, at: "/domain_controller/dns_host_name")
        _ = try ConnectorPageRules.sid(dc.domainSID, at: "/domain_controller/domain_sid")
        guard dc.highestCommittedUSN >= 0 else {
            throw .invalid("highest_committed_usn must be at least 0.", field: "/domain_controller/highest_committed_usn")
        }
    }
}
