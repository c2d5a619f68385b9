import CharterBundle
package import CharterCore
package import CharterStore
package import Foundation

/// The directory area: a tenant's connections, the syncs of them and the objects they stored.
///
/// Every operation is one call of a handler or of `charter sync`: one transaction, audited through
/// ``AuditLog/record(_:on:before:after:by:at:in:)``, refusing with ``DirectoryError``. Without a key-encryption
/// key (`engine` is `nil`) connections can be read and deleted, not written or synced, since bind passwords can
/// be neither sealed nor opened.
package struct DirectoryService: Sendable {
    let database: Database
    /// Seals bind passwords and runs syncs; `nil` without a key-encryption key.
    package let engine: DirectorySyncEngine?
    /// Runs API-started syncs in the background; `nil` where this process starts none.
    let runner: DirectorySyncRunner?
    /// Connections one tenant may have (`quota.directory_connections_per_tenant`).
    let connectionsPerTenant: Int
    let now: @Sendable () -> Date

    package init(
        database: Database, engine: DirectorySyncEngine?, runner: DirectorySyncRunner?, connectionsPerTenant: Int,
        now: @escaping @Sendable () -> Date = { Date() }
    ) {
        self.database = database
        self.engine = engine
        self.runner = runner
        self.connectionsPerTenant = connectionsPerTenant
        self.now = now
    }

    // MARK: - Connections

    /// One page of the tenant's connections after `cursor`, `limit` long.
    package func connections(
        after cursor: DirectoryConnectionID?, limit: Int, of tenant: TenantID, msp: MSPID, by caller: Caller
    ) async throws -> [DirectoryConnection] {
        try await database.withTenant(tenant, msp: msp, logger: caller.logger) { tx in
            try await tx.directoryConnections(of: tenant).list(after: cursor, limit: limit)
        }
    }

    package func connection(
        _ id: DirectoryConnectionID, of tenant: TenantID, msp: MSPID, by caller: Caller
    ) async throws -> DirectoryConnection {
        try await database.withTenant(tenant, msp: msp, logger: caller.logger) { tx in
            try await tx.directoryConnections(of: tenant).get(id)
        }
    }

    /// Checks the draft, seals its password (`direct`) or checks its connectors (`connector`) and stores the
    /// connection within the tenant's quota.
    ///
    /// A `connector` connection's connectors are told to heartbeat (a `configuration` hint).
    ///
    /// - Throws: ``DirectoryError/keyUnavailable``, ``DirectoryError/invalid(_:field:)`` (`connector_ids` naming a
    ///   connector that is unknown, revoked or another tenant's included), `QuotaExceeded`.
    package func createConnection(
        _ draft: DirectoryConnectionDraft, in tenant: TenantID, msp: MSPID, by caller: Caller
    ) async throws -> DirectoryConnection {
        typealias Rules = DirectoryConnection.Rules
        let engine = try requireEngine()
        let id = DirectoryConnectionID.random()
        let now = now()
        let name = try Rules.name(draft.name)
        let transport: DirectoryConnection.Transport =
            switch draft.mode {
            case .direct: .direct(try draft.ldapSettings { try engine.seal($0, tenant: tenant, connection: id) })
            case .connector: .connector(try draft.connectorIDsForConnectorMode())
            }
        let connection = DirectoryConnection(
            id: id, tenantID: tenant, name: name, transport: transport,
            interval: .seconds(try Rules.interval(draft.intervalSeconds)),
            deletionThreshold: try Rules.threshold(
                objects: draft.deletionThresholdObjects, percent: draft.deletionThresholdPercent
            ),
            isEnabled: draft.isEnabled, createdAt: now, updatedAt: now
        )
        try await database.withTenant(tenant, msp: msp, logger: caller.logger) { tx in
            try await Self.checkConnectors(connection.connectorIDs, in: tx, tenant: tenant)
            try await tx.quotas.admitOne(more: .directoryConnections, in: tenant, limit: connectionsPerTenant)
            try await tx.directoryConnections(of: tenant).create(connection, msp: msp)
            try await tx.audit.record(
                "directory_connection.created", on: ("directory_connection", id.description),
                after: connection.auditSnapshot, by: caller, at: now, in: .tenant(tenant)
            )
            try await Self.hintConfiguration(connection.connectorIDs, in: tx, tenant: tenant)
        }
        return connection
    }

    /// Applies `patch` to the connection at `expectedVersion` (any version when `nil`).
    ///
    /// A change of a `connector` connection's mode, connectors, interval or enabled flag tells its connectors
    /// (those before and after) to heartbeat.
    ///
    /// - Throws: ``DirectoryError/keyUnavailable``, ``DirectoryError/invalid(_:field:)`` (including a change of
    ///   where the password goes without the password), `StoreError.notFound`, `StoreError.versionMismatch`.
    package func updateConnection(
        _ id: DirectoryConnectionID, with patch: DirectoryConnectionPatch, expectedVersion: Int64?,
        in tenant: TenantID, msp: MSPID, by caller: Caller
    ) async throws -> DirectoryConnection {
        let engine = try requireEngine()
        let sealed = try patch.bindPassword.map {
            try engine.seal(try DirectoryConnection.Rules.password($0), tenant: tenant, connection: id)
        }
        let now = now()
        return try await database.withTenant(tenant, msp: msp, logger: caller.logger) { tx in
            let repository = tx.directoryConnections(of: tenant)
            let before = try await repository.get(id)
            var changed = try patch.applied(to: before, sealed: sealed)
            if changed.connectorIDs != before.connectorIDs {
                try await Self.checkConnectors(changed.connectorIDs, in: tx, tenant: tenant)
            }
            changed.updatedAt = now
            let after = try await repository.update(changed, expectedVersion: expectedVersion)
            try await tx.audit.record(
                "directory_connection.updated", on: ("directory_connection", id.description),
                before: before.auditSnapshot, after: after.auditSnapshot, by: caller, at: now, in: .tenant(tenant)
            )
            if after.transport != before.transport || after.interval != before.interval
                || after.isEnabled != before.isEnabled
            {
                let told = before.connectorIDs + after.connectorIDs.filter { !before.connectorIDs.contains($0) }
                try await Self.hintConfiguration(told, in: tx, tenant: tenant)
            }
            return after
        }
    }

    package func deleteConnection(
        _ id: DirectoryConnectionID, expectedVersion: Int64?, in tenant: TenantID, msp: MSPID, by caller: Caller
    ) async throws {
        let now = now()
        try await database.withTenant(tenant, msp: msp, logger: caller.logger) { tx in
            let before = try await tx.directoryConnections(of: tenant).delete(id, expectedVersion: expectedVersion)
            try await tx.audit.record(
                "directory_connection.deleted", on: ("directory_connection", id.description),
                before: before.auditSnapshot, by: caller, at: now, in: .tenant(tenant)
            )
            try await Self.hintConfiguration(before.connectorIDs, in: tx, tenant: tenant)
        }
    }

    /// Refuses connector ids that are not the tenant's (row-level security hides another tenant's) or are
    /// revoked.
    private static func checkConnectors(_ ids: [ConnectorID], in tx: Transaction, tenant: TenantID) async throws {
        guard !ids.isEmpty else { return }
        let found = try await tx.connectorUploads(of: tenant).connectors(ids)
        for (index, id) in ids.enumerated() {
            guard let connector = found.first(where: { $0.id == id }) else {
                throw DirectoryError.invalid(
                    "No connector \(id) is enrolled in this tenant.", field: "/connector_ids/\(index)"
                )
            }
            guard !connector.isRevoked else {
                throw DirectoryError.invalid("The connector \(id) is revoked.", field: "/connector_ids/\(index)")
            }
        }
    }

    /// Tells connectors that a connection they serve changed: they heartbeat and learn what they serve now.
    private static func hintConfiguration(_ ids: [ConnectorID], in tx: Transaction, tenant: TenantID) async throws {
        try await tx.changeFeed.append(tenant, connectorEvent: "configuration", to: ids)
    }

    // MARK: - Sync runs

    /// Starts a sync in the background (``DirectorySyncRunner``) and returns its run, still `running`.
    ///
    /// - Throws: ``DirectoryError/keyUnavailable``, ``DirectoryError/syncUnavailable``,
    ///   ``DirectoryError/alreadyRunning``, ``DirectoryError/tenantBusy(_:)``, ``DirectoryError/processBusy(_:)``,
    ///   ``DirectoryError/shuttingDown``, `StoreError.notFound` for an unknown connection.
    package func startSync(
        of connection: DirectoryConnectionID, kind: SyncRun.Kind, confirmsDeletions: Bool, in tenant: TenantID,
        msp: MSPID, by caller: Caller
    ) async throws -> SyncRun {
        _ = try requireEngine()
        guard let runner else { throw DirectoryError.syncUnavailable }
        do {
            return try await runner.start(
                .init(
                    tenantID: tenant, mspID: msp, connectionID: connection, kind: kind, trigger: .api,
                    confirmsDeletions: confirmsDeletions, actor: caller.actor
                )
            )
        } catch let error as DirectorySyncError {
            throw DirectoryError(starting: error) ?? error
        }
    }

    /// Starts again, applying its deletions, a run the deletion guard held.
    ///
    /// - Throws: ``DirectoryError/notConfirmable(_:)`` for a run not in `needs_confirmation`, and what
    ///   ``startSync(of:kind:confirmsDeletions:in:msp:by:)`` throws.
    package func confirm(_ run: SyncRunID, in tenant: TenantID, msp: MSPID, by caller: Caller) async throws -> SyncRun {
        let held = try await self.run(run, of: tenant, msp: msp, by: caller)
        guard held.status == .needsConfirmation else { throw DirectoryError.notConfirmable(held.status) }
        return try await startSync(
            of: held.connectionID, kind: held.kind, confirmsDeletions: true, in: tenant, msp: msp, by: caller
        )
    }

    /// Runs one sync now and waits for it (`charter sync`), as the operator on the host.
    ///
    /// - Throws: ``DirectoryError/keyUnavailable``, ``DirectorySyncError/alreadyRunning(_:)``,
    ///   `StoreError.notFound`; failures after the run started are recorded on it, not thrown.
    package func syncNow(
        _ connection: DirectoryConnectionID, of tenant: TenantID, kind: SyncRun.Kind, confirmsDeletions: Bool,
        by caller: Caller, onProgress: @escaping @Sendable (Int) async -> Void = { _ in }
    ) async throws -> SyncRun {
        let engine = try requireEngine()
        let msp = try await database.withoutTenant(logger: caller.logger) { tx in try await tx.tenants.msp(of: tenant) }
        return try await engine.sync(
            .init(
                tenantID: tenant, mspID: msp, connectionID: connection, kind: kind, trigger: .cli,
                confirmsDeletions: confirmsDeletions, actor: caller.actor
            ),
            onProgress: onProgress
        )
    }

    /// One page of the tenant's runs, newest first, of one connection or all.
    package func runs(
        of connection: DirectoryConnectionID?, after cursor: SyncRunID?, limit: Int, in tenant: TenantID, msp: MSPID,
        by caller: Caller
    ) async throws -> [SyncRun] {
        try await database.withTenant(tenant, msp: msp, logger: caller.logger) { tx in
            try await tx.syncRuns(of: tenant).list(connection: connection, after: cursor, limit: limit)
        }
    }

    package func run(_ id: SyncRunID, of tenant: TenantID, msp: MSPID, by caller: Caller) async throws -> SyncRun {
        try await database.withTenant(tenant, msp: msp, logger: caller.logger) { tx in
            try await tx.syncRuns(of: tenant).get(id)
        }
    }

    // MARK: - Objects

    /// One page of the tenant's stored objects of `kinds` whose names contain `text`.
    package func objects(
        _ kinds: [DirectoryObjectKind], matching text: String?, after cursor: ObjectGUID?, limit: Int,
        in tenant: TenantID, msp: MSPID, by caller: Caller
    ) async throws -> [DirectoryEntry] {
        try await database.withTenant(tenant, msp: msp, logger: caller.logger) { tx in
            try await tx.directory(of: tenant).search(kinds: kinds, matching: text, after: cursor, limit: limit)
        }
    }

    package func object(
        _ guid: ObjectGUID, kinds: [DirectoryObjectKind], in tenant: TenantID, msp: MSPID, by caller: Caller
    ) async throws -> DirectoryEntry {
        try await database.withTenant(tenant, msp: msp, logger: caller.logger) { tx in
            try await tx.directory(of: tenant).get(guid, kinds: kinds)
        }
    }

    /// The groups an object is in (direct ones at depth 1) and the OUs above it, domain first.
    package func memberships(
        of guid: ObjectGUID, kinds: [DirectoryObjectKind], in tenant: TenantID, msp: MSPID, by caller: Caller
    ) async throws -> (groups: [DirectoryGroupMembership], ouPath: [DirectoryEntry]) {
        try await database.withTenant(tenant, msp: msp, logger: caller.logger) { tx in
            let directory = tx.directory(of: tenant)
            _ = try await directory.get(guid, kinds: kinds)
            return (try await directory.groups(of: guid), try await directory.ouPath(of: guid))
        }
    }

    private func requireEngine() throws(DirectoryError) -> DirectorySyncEngine {
        guard let engine else { throw .keyUnavailable }
        return engine
    }
}

extension DirectorySyncEngine {
    /// Seals a bind password for the connection it belongs to.
    func seal(_ password: String, tenant: TenantID, connection: DirectoryConnectionID) throws -> String {
        try sealer.seal(
            password, context: DirectoryConnection.sealingContext(tenant: tenant, connection: connection)
        ).description
    }
}
