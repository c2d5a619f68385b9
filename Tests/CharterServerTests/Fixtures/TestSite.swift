import CharterAgentWire
import CharterCore
import CharterDirectory
import CharterServices
import CharterStore
import CompressNIO
import Foundation
import NIOCore
import PostgresNIO
import Testing

/// Connectors as the service stores them, and a customer's site that reads the test DC and uploads what it read
/// through ``ConnectorSyncService`` as `charter connector` would (without that client).
enum TestConnectors {
    /// Stores an enrolled connector of `tenant`; `lastSeen` as its last heartbeat.
    static func enroll(
        _ name: String, tenant: TenantID, msp: MSPID, lastSeen: Date? = nil, revoked: Bool = false
    ) async throws -> ConnectorID {
        let id = ConnectorID.random()
        let key = Data((0..<32).map { _ in UInt8.random(in: 0...255) })
        let hash = Data((0..<32).map { _ in UInt8.random(in: 0...255) })
        let now = Date()
        try await TestApp.withOwner { database in
            try await database.withTenant(tenant, msp: msp, logger: TestApp.logger) { tx in
                try await tx.query(
                    """
                    INSERT INTO connectors (tenant_id, id, name, hostname, version, protocol_version, signing_key,
                        token_hash, token_expires_at, enrolled_at, last_seen_at, revoked_at)
                    VALUES (\(tenant.rawValue), \(id.rawValue), \(name), 'conn.charter.test', '1.0.0', 1, \(key),
                        \(hash), \(now.addingTimeInterval(86_400)), \(now), \(lastSeen), \(revoked ? now : nil))
                    """
                )
            }
        }
        return id
    }

    /// Makes `connector` the active connector of `connection` for `seconds` (negative: a lease that ran out).
    static func lease(
        _ connection: DirectoryConnectionID, to connector: ConnectorID, tenant: TenantID, msp: MSPID,
        seconds: TimeInterval = 300
    ) async throws {
        try await TestApp.withOwner { database in
            try await database.withTenant(tenant, msp: msp, logger: TestApp.logger) { tx in
                try await tx.query(
                    """
                    INSERT INTO connector_leases (tenant_id, connection_id, connector_id, expires_at)
                    VALUES (\(tenant.rawValue), \(connection.rawValue), \(connector.rawValue),
                        \(Date().addingTimeInterval(seconds)))
                    ON CONFLICT (tenant_id, connection_id)
                    DO UPDATE SET connector_id = EXCLUDED.connector_id, expires_at = EXCLUDED.expires_at
                    """
                )
            }
        }
    }

    /// Stores a `connector` connection served by `connectors`.
    static func makeConnection(
        tenant: TenantID, msp: MSPID, connectors: [ConnectorID], threshold: DeletionThreshold = .init()
    ) async throws -> DirectoryConnection {
        let now = Date()
        let connection = DirectoryConnection(
            id: .random(), tenantID: tenant, name: "Site A", transport: .connector(connectors),
            interval: .seconds(3600), deletionThreshold: threshold, isEnabled: false, createdAt: now, updatedAt: now
        )
        try await TestApp.withOwner { database in
            try await database.withTenant(tenant, msp: msp, logger: TestApp.logger) { tx in
                try await tx.directoryConnections(of: tenant).create(connection, msp: msp)
            }
        }
        return connection
    }

    /// The connector as its authentication hands it to the routes: bound to its own tenant.
    static func authenticated(_ id: ConnectorID) async throws -> AuthenticatedConnector {
        let binding = try await TestApp.withService { database in
            try await database.withoutTenant(logger: TestApp.logger) { tx in try await tx.connectors.credential(for: id)?.binding }
        }
        return AuthenticatedConnector(connector: id, binding: try #require(binding), protocolVersion: 1)
    }

    /// The connector service on the service role's database (row-level security applies), for `body`.
    static func withService<Result: Sendable>(
        _ body: @Sendable (ConnectorSyncService) async throws -> Result
    ) async throws -> Result {
        try await TestApp.withService { database in try await body(ConnectorSyncService(database: database)) }
    }
}

/// A customer's site: one connector reading the test DC under `base`.
struct TestSite: Sendable {
    let connector: AuthenticatedConnector
    let domain: TestDomain
    let base: String

    /// What a read produced, ready to upload.
    struct Upload: Sendable {
        var pages: [DirectoryPage]
        var completion: ConnectorRunCompletion
    }

    /// Reads the work until `run` is in it (about 30 s at most).
    func awaitRun(_ run: SyncRunID) async throws -> ConnectorRunAssignment {
        for _ in 0..<300 {
            let work = try await TestConnectors.withService { service in
                try await service.work(for: connector, logger: TestApp.logger)
            }
            if let assignment = work.runs.first(where: { $0.runID == run.description }) { return assignment }
            // The run is assigned by the engine in the background; a connector reads its work on the hint.
            try await Task.sleep(for: .milliseconds(100))
        }
        Issue.record("run \(run) was not assigned to connector \(connector.connector)")
        throw CancellationError()
    }

    /// Reads the DC as the assignment asks, with the same `DirectoryReader` a direct sync uses.
    func read(_ assignment: ConnectorRunAssignment) async throws -> Upload {
        let ldap = try await domain.connect()
        defer { ldap.close() }
        let reader = DirectoryReader(connection: ldap, baseDN: base, logger: TestApp.logger)
        var pages: [DirectoryPage] = []
        var tombstones = 0
        let collect: (DirectoryReader.Batch) async throws -> Void = { batch in
            pages.append(DirectoryPage(objects: batch.objects.map(DirectoryPageObject.init), deleted: batch.deletedGUIDs))
            tombstones = batch.progress.tombstonesRead
        }
        if assignment.kind == .incremental, let mark = assignment.watermark {
            let since = DirectoryWatermark(serviceName: mark.dcServiceName, invocationID: mark.invocationID, usn: mark.usn)
            if case .completed(let identity, _) = try await reader.readIncremental(since: since, onBatch: collect) {
                return Self.upload(pages, kind: .incremental, identity: identity, tombstones: tombstones)
            }
            pages = []
        }
        let identity = try await reader.readFull(onBatch: collect)
        return Self.upload(pages, kind: .full, identity: identity, tombstones: 0)
    }

    static func upload(
        _ pages: [DirectoryPage], kind: ConnectorRunAssignment.Kind, identity: DomainControllerIdentity, tombstones: Int
    ) -> Upload {
        Upload(
            pages: pages,
            completion: ConnectorRunCompletion(
                pages: pages.count, kind: kind, objectsRead: pages.reduce(0) { $0 + $1.objects.count },
                tombstonesRead: tombstones,
                domainController: ConnectorDomainController(
                    serviceName: identity.serviceName, invocationID: identity.invocationID,
                    highestCommittedUSN: identity.highestCommittedUSN,
                    defaultNamingContext: identity.defaultNamingContext, dnsHostName: identity.dnsHostName,
                    domainSID: identity.domainSID?.description
                )
            )
        )
    }

    /// Uploads page `number` (from 1), gzip-compressed.
    func upload(_ page: DirectoryPage, number: Int, of run: SyncRunID) async throws -> DirectoryPageReceipt {
        let body = try Self.gzip(page)
        return try await TestConnectors.withService { service in
            try await service.uploadPage(number, of: run, body: body, isGzip: true, by: connector, logger: TestApp.logger)
        }
    }

    func complete(_ run: SyncRunID, _ completion: ConnectorRunCompletion) async throws -> ConnectorRunStatus {
        try await TestConnectors.withService { service in
            try await service.complete(run, with: completion, by: connector, logger: TestApp.logger)
        }
    }

    /// Serves one run end to end: waits for it, reads, uploads every page and completes.
    func serve(_ run: SyncRunID) async throws {
        let upload = try await read(try await awaitRun(run))
        for (index, page) in upload.pages.enumerated() { _ = try await self.upload(page, number: index + 1, of: run) }
        _ = try await complete(run, upload.completion)
    }

    /// A page's JSON, the same bytes each time (a connector resends a page byte for byte).
    static func json(_ page: DirectoryPage) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return try encoder.encode(page)
    }

    static func gzip(_ page: DirectoryPage) throws -> ByteBuffer {
        var plain = ByteBuffer(bytes: try json(page))
        return try plain.compress(with: .gzip())
    }
}

extension DirectoryPageObject {
    /// The wire form of an object the reader returned, as a connector sends it.
    init(_ object: DirectoryObject) {
        self.init(
            guid: object.guid, kind: object.kind.rawValue, dn: object.dn, parentGUID: object.parentGUID,
            name: object.name, samAccountName: object.samAccountName, userPrincipalName: object.userPrincipalName,
            dnsHostName: object.dnsHostName, displayName: object.displayName, sid: object.sid?.description,
            disabled: object.isDisabled, primaryGroupID: object.primaryGroupID.map(Int64.init),
            groupType: object.groupType.map(Int64.init), usnChanged: object.usnChanged,
            members: object.members?.map { DirectoryPageMember(guid: $0.guid, dn: $0.dn, sid: $0.sid?.description) }
        )
    }
}
