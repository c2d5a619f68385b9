import CharterBundle
import CharterCore
import CharterDirectory
import CharterServices
import CharterStore
import Foundation
import OpenAPIRuntime

extension APIHandler {
    // MARK: - Connections

    func listDirectoryConnections(
        _ input: Operations.ListDirectoryConnections.Input
    ) async throws -> Operations.ListDirectoryConnections.Output {
        let (scope, tenant, msp) = try authorized(input.path.tenant, .read)
        let limit = try Input.limit(input.query.limit)
        let cursor = try Cursor.decodeID(input.query.cursor, as: DirectoryConnectionID.self)
        let connections = try await database.withTenant(tenant, msp: msp, logger: scope.logger) { tx in
            try await tx.directoryConnections(of: tenant).list(after: cursor, limit: limit + 1)
        }
        let page = connections.prefix(limit)
        let next = connections.count > limit ? page.last.map { $0.id.description } : nil
        return .ok(.init(body: .json(.init(items: page.map(Components.Schemas.DirectoryConnection.init), nextCursor: next))))
    }

    func createDirectoryConnection(
        _ input: Operations.CreateDirectoryConnection.Input
    ) async throws -> Operations.CreateDirectoryConnection.Output {
        let (scope, tenant, msp) = try authorized(input.path.tenant, .configure)
        guard case .json(let body) = input.body else { throw Problem(.unsupportedMediaType, "Send application/json.") }
        let engine = try requireDirectorySync()
        let id = DirectoryConnectionID.random()
        let now = now()
        let tlsMode = DirectoryConnection.TLSMode(body.tlsMode)
        let connection = DirectoryConnection(
            id: id, tenantID: tenant, name: try Input.name(body.name),
            urls: try DirectoryInput.urls(body.urls, tlsMode: tlsMode),
            baseDN: try DirectoryInput.dn(body.baseDn, field: "/base_dn"),
            bindDN: try DirectoryInput.dn(body.bindDn, field: "/bind_dn"),
            sealedPassword: try DirectoryInput.sealedPassword(body.bindPassword, engine: engine, tenant: tenant, connection: id),
            tlsMode: tlsMode, caPEM: try DirectoryInput.caPEM(body.caPem),
            interval: .seconds(try DirectoryInput.interval(body.intervalSeconds ?? 3600)),
            deletionThreshold: try DirectoryInput.threshold(
                objects: body.deletionThresholdObjects ?? 500, percent: body.deletionThresholdPercent ?? 10
            ),
            isEnabled: body.enabled ?? true, createdAt: now, updatedAt: now
        )
        try await database.withTenant(tenant, msp: msp, logger: scope.logger) { tx in
            try await tx.quotas.admitOne(
                more: .directoryConnections, in: tenant, limit: quotas.directoryConnectionsPerTenant
            )
            try await tx.directoryConnections(of: tenant).create(connection, msp: msp)
            try await tx.audit.append(
                AuditRecord(
                    occurredAt: now, actor: scope.actor, action: "directory_connection.created",
                    targetType: "directory_connection", targetID: id.description, after: connection.auditSnapshot
                ),
                to: .tenant(tenant)
            )
        }
        return .created(.init(headers: .init(eTag: ETag.value(connection.version)), body: .json(.init(connection))))
    }

    func getDirectoryConnection(
        _ input: Operations.GetDirectoryConnection.Input
    ) async throws -> Operations.GetDirectoryConnection.Output {
        let (scope, tenant, msp) = try authorized(input.path.tenant, .read)
        let id = try DirectoryInput.connectionID(input.path.connection)
        let connection = try await database.withTenant(tenant, msp: msp, logger: scope.logger) { tx in
            try await tx.directoryConnections(of: tenant).get(id)
        }
        return .ok(.init(headers: .init(eTag: ETag.value(connection.version)), body: .json(.init(connection))))
    }

    func updateDirectoryConnection(
        _ input: Operations.UpdateDirectoryConnection.Input
    ) async throws -> Operations.UpdateDirectoryConnection.Output {
        let (scope, tenant, msp) = try authorized(input.path.tenant, .configure)
        let id = try DirectoryInput.connectionID(input.path.connection)
        guard case .json(let body) = input.body else { throw Problem(.unsupportedMediaType, "Send application/json.") }
        let expected = ETag.expectedVersion(input.headers.ifMatch)
        let engine = try requireDirectorySync()
        let sealed = try body.bindPassword.map {
            try DirectoryInput.sealedPassword($0, engine: engine, tenant: tenant, connection: id)
        }
        let now = now()
        let updated = try await database.withTenant(tenant, msp: msp, logger: scope.logger) { tx in
            let repository = tx.directoryConnections(of: tenant)
            let before = try await repository.get(id)
            var changed = before
            if let name = body.name { changed.name = try Input.name(name) }
            if let mode = body.tlsMode { changed.tlsMode = DirectoryConnection.TLSMode(mode) }
            if body.urls != nil || body.tlsMode != nil {
                changed.urls = try DirectoryInput.urls(body.urls ?? before.urls, tlsMode: changed.tlsMode)
            }
            if let baseDN = body.baseDn { changed.baseDN = try DirectoryInput.dn(baseDN, field: "/base_dn") }
            if let bindDN = body.bindDn { changed.bindDN = try DirectoryInput.dn(bindDN, field: "/bind_dn") }
            if let sealed { changed.sealedPassword = sealed }
            if let pem = body.caPem { changed.caPEM = try DirectoryInput.caPEM(pem) }
            if let seconds = body.intervalSeconds { changed.interval = .seconds(try DirectoryInput.interval(seconds)) }
            changed.deletionThreshold = try DirectoryInput.threshold(
                objects: body.deletionThresholdObjects ?? before.deletionThreshold.objects,
                percent: body.deletionThresholdPercent ?? before.deletionThreshold.percent
            )
            if let enabled = body.enabled { changed.isEnabled = enabled }
            guard sealed != nil || changed.hasSameDestination(as: before) else {
                throw Problem(
                    .validationFailed,
                    "Changing urls, tls_mode, ca_pem or bind_dn needs bind_password in the same request: the stored "
                        + "password is only ever sent where it was given for.",
                    field: "/bind_password"
                )
            }
            changed.updatedAt = now
            let after = try await repository.update(changed, expectedVersion: expected)
            try await tx.audit.append(
                AuditRecord(
                    occurredAt: now, actor: scope.actor, action: "directory_connection.updated",
                    targetType: "directory_connection", targetID: id.description, before: before.auditSnapshot,
                    after: after.auditSnapshot
                ),
                to: .tenant(tenant)
            )
            return after
        }
        return .ok(.init(headers: .init(eTag: ETag.value(updated.version)), body: .json(.init(updated))))
    }

    func deleteDirectoryConnection(
        _ input: Operations.DeleteDirectoryConnection.Input
    ) async throws -> Operations.DeleteDirectoryConnection.Output {
        let (scope, tenant, msp) = try authorized(input.path.tenant, .configure)
        let id = try DirectoryInput.connectionID(input.path.connection)
        let expected = ETag.expectedVersion(input.headers.ifMatch)
        let now = now()
        try await database.withTenant(tenant, msp: msp, logger: scope.logger) { tx in
            let before = try await tx.directoryConnections(of: tenant).delete(id, expectedVersion: expected)
            try await tx.audit.append(
                AuditRecord(
                    occurredAt: now, actor: scope.actor, action: "directory_connection.deleted",
                    targetType: "directory_connection", targetID: id.description, before: before.auditSnapshot
                ),
                to: .tenant(tenant)
            )
        }
        return .noContent(.init())
    }

    // MARK: - Sync runs

    func syncDirectoryConnection(
        _ input: Operations.SyncDirectoryConnection.Input
    ) async throws -> Operations.SyncDirectoryConnection.Output {
        let (scope, tenant, msp) = try authorized(input.path.tenant, .configure)
        let id = try DirectoryInput.connectionID(input.path.connection)
        var kind = SyncRun.Kind.incremental
        var confirms = false
        if case .json(let body)? = input.body {
            if body.kind == .full { kind = .full }
            confirms = body.confirmDeletions ?? false
        }
        let run = try await startSync(scope: scope, tenant: tenant, msp: msp, connection: id, kind: kind, confirms: confirms)
        return .accepted(.init(headers: .init(location: Self.location(of: run, in: tenant)), body: .json(.init(run))))
    }

    func confirmSyncRun(_ input: Operations.ConfirmSyncRun.Input) async throws -> Operations.ConfirmSyncRun.Output {
        let (scope, tenant, msp) = try authorized(input.path.tenant, .configure)
        let id = try DirectoryInput.runID(input.path.run)
        let held = try await database.withTenant(tenant, msp: msp, logger: scope.logger) { tx in
            try await tx.syncRuns(of: tenant).get(id)
        }
        guard held.status == .needsConfirmation else {
            throw Problem(.conflict, "Only a run in needs_confirmation can be confirmed; this one is \(held.status.rawValue).")
        }
        let run = try await startSync(
            scope: scope, tenant: tenant, msp: msp, connection: held.connectionID, kind: held.kind, confirms: true
        )
        return .accepted(.init(headers: .init(location: Self.location(of: run, in: tenant)), body: .json(.init(run))))
    }

    func listSyncRuns(_ input: Operations.ListSyncRuns.Input) async throws -> Operations.ListSyncRuns.Output {
        let (scope, tenant, msp) = try authorized(input.path.tenant, .read)
        let limit = try Input.limit(input.query.limit)
        let cursor = try Cursor.decodeID(input.query.cursor, as: SyncRunID.self)
        let connection = try input.query.connection.map { raw in
            guard let id = DirectoryConnectionID(raw) else {
                throw Problem(.malformedRequest, "connection must be a connection id (a UUID).", field: "connection")
            }
            return id
        }
        let runs = try await database.withTenant(tenant, msp: msp, logger: scope.logger) { tx in
            try await tx.syncRuns(of: tenant).list(connection: connection, after: cursor, limit: limit + 1)
        }
        let page = runs.prefix(limit)
        let next = runs.count > limit ? page.last.map { $0.id.description } : nil
        return .ok(.init(body: .json(.init(items: page.map(Components.Schemas.SyncRun.init), nextCursor: next))))
    }

    func getSyncRun(_ input: Operations.GetSyncRun.Input) async throws -> Operations.GetSyncRun.Output {
        let (scope, tenant, msp) = try authorized(input.path.tenant, .read)
        let id = try DirectoryInput.runID(input.path.run)
        let run = try await database.withTenant(tenant, msp: msp, logger: scope.logger) { tx in
            try await tx.syncRuns(of: tenant).get(id)
        }
        return .ok(.init(body: .json(.init(run))))
    }

    // MARK: - Directory objects

    func listDirectoryUsers(_ input: Operations.ListDirectoryUsers.Input) async throws -> Operations.ListDirectoryUsers.Output {
        .ok(.init(body: .json(try await search(input.path.tenant, [.user], input.query.q, input.query.limit, input.query.cursor))))
    }

    func listDirectoryComputers(
        _ input: Operations.ListDirectoryComputers.Input
    ) async throws -> Operations.ListDirectoryComputers.Output {
        .ok(.init(body: .json(try await search(input.path.tenant, [.computer], input.query.q, input.query.limit, input.query.cursor))))
    }

    func listDirectoryGroups(_ input: Operations.ListDirectoryGroups.Input) async throws -> Operations.ListDirectoryGroups.Output {
        .ok(.init(body: .json(try await search(input.path.tenant, [.group], input.query.q, input.query.limit, input.query.cursor))))
    }

    func listDirectoryOUs(_ input: Operations.ListDirectoryOUs.Input) async throws -> Operations.ListDirectoryOUs.Output {
        .ok(.init(body: .json(try await search(
            input.path.tenant, [.organizationalUnit, .domain], input.query.q, input.query.limit, input.query.cursor
        ))))
    }

    func getDirectoryUser(_ input: Operations.GetDirectoryUser.Input) async throws -> Operations.GetDirectoryUser.Output {
        .ok(.init(body: .json(try await object(input.path.tenant, input.path.guid, [.user]))))
    }

    func getDirectoryComputer(
        _ input: Operations.GetDirectoryComputer.Input
    ) async throws -> Operations.GetDirectoryComputer.Output {
        .ok(.init(body: .json(try await object(input.path.tenant, input.path.guid, [.computer]))))
    }

    func getDirectoryGroup(_ input: Operations.GetDirectoryGroup.Input) async throws -> Operations.GetDirectoryGroup.Output {
        .ok(.init(body: .json(try await object(input.path.tenant, input.path.guid, [.group]))))
    }

    func getDirectoryOU(_ input: Operations.GetDirectoryOU.Input) async throws -> Operations.GetDirectoryOU.Output {
        .ok(.init(body: .json(try await object(input.path.tenant, input.path.guid, [.organizationalUnit, .domain]))))
    }

    func getDirectoryUserGroups(
        _ input: Operations.GetDirectoryUserGroups.Input
    ) async throws -> Operations.GetDirectoryUserGroups.Output {
        .ok(.init(body: .json(try await memberships(input.path.tenant, input.path.guid, [.user]))))
    }

    func getDirectoryComputerGroups(
        _ input: Operations.GetDirectoryComputerGroups.Input
    ) async throws -> Operations.GetDirectoryComputerGroups.Output {
        .ok(.init(body: .json(try await memberships(input.path.tenant, input.path.guid, [.computer]))))
    }

    // MARK: - Shared steps

    /// The request's scope, tenant and MSP once the principal may do `permission` on the tenant.
    func authorized(_ rawTenant: String, _ permission: Permission) throws -> (RequestScope, TenantID, MSPID) {
        let scope = try RequestScope.require()
        let tenant = try Input.tenantID(rawTenant)
        let msp = scope.principal.scope.mspID
        try scope.principal.authorize(.read, tenant: tenant, of: msp)
        try scope.principal.authorize(permission, tenant: tenant, of: msp)
        return (scope, tenant, msp)
    }

    private func requireDirectorySync() throws -> DirectorySyncEngine {
        guard let directorySync else {
            throw Problem(
                .serviceUnavailable,
                "No key-encryption key is configured (CHARTER_KEK or CHARTER_KEK_FILE), so bind passwords cannot be sealed or opened."
            )
        }
        return directorySync
    }

    /// Starts a sync in the background (``DirectorySyncRunner``) and returns its run, still `running`.
    private func startSync(
        scope: RequestScope, tenant: TenantID, msp: MSPID, connection: DirectoryConnectionID, kind: SyncRun.Kind,
        confirms: Bool
    ) async throws -> SyncRun {
        _ = try requireDirectorySync()
        guard let syncRunner else { throw Problem(.serviceUnavailable, "Directory syncs cannot be started here.") }
        do {
            return try await syncRunner.start(
                .init(
                    tenantID: tenant, mspID: msp, connectionID: connection, kind: kind, trigger: .api,
                    confirmsDeletions: confirms, actor: scope.actor
                )
            )
        } catch DirectorySyncError.alreadyRunning {
            throw Problem(.conflict, "A sync of this connection is already running; try again when it has finished.")
        } catch DirectorySyncError.tenantBusy(let limit) {
            throw Problem(
                .tooManyRequests,
                "The tenant already has \(limit) directory syncs running (directory.sync.max_runs_per_tenant); "
                    + "try again when one has finished.",
                retryAfterSeconds: 30
            )
        } catch DirectorySyncError.processBusy(let limit) {
            throw Problem(
                .tooManyRequests,
                "This server already runs \(limit) directory syncs (directory.sync.max_runs_per_process); "
                    + "try again shortly.",
                retryAfterSeconds: 30
            )
        } catch DirectorySyncError.shutDown {
            throw Problem(.serviceUnavailable, "The service is shutting down; the sync was not started.")
        }
    }

    /// Where a run can be read while it works.
    private static func location(of run: SyncRun, in tenant: TenantID) -> String {
        "/v1/tenants/\(tenant)/directory/sync-runs/\(run.id)"
    }

    private func search(
        _ rawTenant: String, _ kinds: [DirectoryEntry.Kind], _ query: String?, _ rawLimit: Int?, _ rawCursor: String?
    ) async throws -> Components.Schemas.DirectoryObjectList {
        let (scope, tenant, msp) = try authorized(rawTenant, .read)
        let limit = try Input.limit(rawLimit)
        let cursor = try rawCursor.map { value in
            guard let guid = ObjectGUID(value) else { throw Cursor.malformed }
            return guid
        }
        let text = try Input.text(query, field: "q", maxLength: 200)?.trimmingCharacters(in: .whitespaces)
        let entries = try await database.withTenant(tenant, msp: msp, logger: scope.logger) { tx in
            try await tx.directory(of: tenant).search(
                kinds: kinds, matching: text?.isEmpty == false ? text : nil, after: cursor, limit: limit + 1
            )
        }
        let page = entries.prefix(limit)
        let next = entries.count > limit ? page.last.map { $0.guid.description } : nil
        return .init(items: page.map(Components.Schemas.DirectoryObject.init), nextCursor: next)
    }

    private func object(
        _ rawTenant: String, _ rawGUID: String, _ kinds: [DirectoryEntry.Kind]
    ) async throws -> Components.Schemas.DirectoryObject {
        let (scope, tenant, msp) = try authorized(rawTenant, .read)
        let guid = try DirectoryInput.guid(rawGUID)
        let entry = try await database.withTenant(tenant, msp: msp, logger: scope.logger) { tx in
            try await tx.directory(of: tenant).get(guid, kinds: kinds)
        }
        return .init(entry)
    }

    private func memberships(
        _ rawTenant: String, _ rawGUID: String, _ kinds: [DirectoryEntry.Kind]
    ) async throws -> Components.Schemas.DirectoryMemberships {
        let (scope, tenant, msp) = try authorized(rawTenant, .read)
        let guid = try DirectoryInput.guid(rawGUID)
        let (groups, path) = try await database.withTenant(tenant, msp: msp, logger: scope.logger) { tx in
            let directory = tx.directory(of: tenant)
            _ = try await directory.get(guid, kinds: kinds)
            return (try await directory.groups(of: guid), try await directory.ouPath(of: guid))
        }
        let transitive = groups.map(Components.Schemas.DirectoryGroupMembership.init)
        return .init(
            direct: transitive.filter { $0.depth == 1 }, transitive: transitive,
            ouPath: path.map(Components.Schemas.DirectoryObject.init)
        )
    }
}

/// Conversions and checks of directory input, each failing with a problem that names the field.
enum DirectoryInput {
    static func connectionID(_ raw: String) throws -> DirectoryConnectionID {
        guard let id = DirectoryConnectionID(raw) else {
            throw Problem(.malformedRequest, "The connection id must be a UUID.", field: "connection")
        }
        return id
    }

    static func runID(_ raw: String) throws -> SyncRunID {
        guard let id = SyncRunID(raw) else { throw Problem(.malformedRequest, "The run id must be a UUID.", field: "run") }
        return id
    }

    static func guid(_ raw: String) throws -> ObjectGUID {
        guard let guid = ObjectGUID(raw) else {
            throw Problem(.malformedRequest, "The guid must be an objectGUID in the standard UUID form.", field: "guid")
        }
        return guid
    }

    /// 1–10 URLs whose scheme fits the TLS mode: `ldaps://` for `ldaps`, `ldap://` otherwise.
    static func urls(_ urls: [String], tlsMode: DirectoryConnection.TLSMode) throws -> [String] {
        guard (1...10).contains(urls.count) else {
            throw Problem(.validationFailed, "Give 1 to 10 LDAP URLs, in failover order.", field: "/urls")
        }
        let scheme = tlsMode == .ldaps ? "ldaps://" : "ldap://"
        for (index, url) in urls.enumerated() {
            guard url.lowercased().hasPrefix(scheme), url.count > scheme.count, url.count <= 500 else {
                throw Problem(
                    .validationFailed, "With tls_mode '\(tlsMode.rawValue)' every URL must start with \(scheme).",
                    field: "/urls/\(index)"
                )
            }
        }
        return urls
    }

    static func dn(_ raw: String, field: String) throws -> String {
        let dn = raw.trimmingCharacters(in: .whitespaces)
        guard !dn.isEmpty, dn.count <= 2000, (try? DistinguishedName(dn)) != nil else {
            throw Problem(.validationFailed, "Give a distinguished name such as DC=example,DC=com (RFC 4514).", field: field)
        }
        return dn
    }

    static func caPEM(_ raw: String?) throws -> String? {
        guard let raw, !raw.isEmpty else { return nil }
        guard raw.contains("-----BEGIN CERTIFICATE-----"), raw.count <= 100_000 else {
            throw Problem(.validationFailed, "ca_pem must hold PEM certificates (-----BEGIN CERTIFICATE-----).", field: "/ca_pem")
        }
        return raw
    }

    static func interval(_ seconds: Int) throws -> Int64 {
        guard (60...604_800).contains(seconds) else {
            throw Problem(.validationFailed, "interval_seconds must be from 60 to 604800.", field: "/interval_seconds")
        }
        return Int64(seconds)
    }

    static func threshold(objects: Int, percent: Int) throws -> DeletionThreshold {
        guard (0...10_000_000).contains(objects) else {
            throw Problem(
                .validationFailed, "deletion_threshold_objects must be from 0 to 10000000.",
                field: "/deletion_threshold_objects"
            )
        }
        guard (0...100).contains(percent) else {
            throw Problem(
                .validationFailed, "deletion_threshold_percent must be from 0 to 100.", field: "/deletion_threshold_percent"
            )
        }
        return DeletionThreshold(objects: objects, percent: percent)
    }

    static func sealedPassword(
        _ password: String, engine: DirectorySyncEngine, tenant: TenantID, connection: DirectoryConnectionID
    ) throws -> String {
        guard (1...1024).contains(password.unicodeScalars.count) else {
            throw Problem(.validationFailed, "bind_password must have 1 to 1024 characters.", field: "/bind_password")
        }
        do {
            return try engine.sealer.seal(
                password, context: DirectoryConnection.sealingContext(tenant: tenant, connection: connection)
            ).description
        } catch {
            throw Problem(.internalError, "The bind password could not be sealed.")
        }
    }
}

extension DirectoryConnection.TLSMode {
    init(_ mode: Components.Schemas.DirectoryTLSMode) {
        switch mode {
        case .ldaps: self = .ldaps
        case .startTls: self = .startTLS
        case .plain: self = .plain
        }
    }
}

extension DirectoryConnection {
    /// What the audit log keeps of a connection: everything but the password.
    var auditSnapshot: String {
        AuditJSON.encode([
            "id": id.description, "name": name, "urls": urls, "base_dn": baseDN, "bind_dn": bindDN,
            "tls_mode": tlsMode.rawValue, "has_ca_pem": caPEM != nil,
            "interval_seconds": Int(interval.components.seconds),
            "deletion_threshold_objects": deletionThreshold.objects,
            "deletion_threshold_percent": deletionThreshold.percent, "enabled": isEnabled, "version": version,
        ])
    }
}

extension Components.Schemas.DirectoryConnection {
    init(_ connection: DirectoryConnection) {
        let mode: Components.Schemas.DirectoryTLSMode =
            switch connection.tlsMode {
            case .ldaps: .ldaps
            case .startTLS: .startTls
            case .plain: .plain
            }
        self.init(
            id: connection.id.description, tenantId: connection.tenantID.description, name: connection.name,
            urls: connection.urls, baseDn: connection.baseDN, bindDn: connection.bindDN,
            hasPassword: !connection.sealedPassword.isEmpty, tlsMode: mode, caPem: connection.caPEM,
            intervalSeconds: Int(connection.interval.components.seconds),
            deletionThresholdObjects: connection.deletionThreshold.objects,
            deletionThresholdPercent: connection.deletionThreshold.percent, enabled: connection.isEnabled,
            version: connection.version, createdAt: connection.createdAt, updatedAt: connection.updatedAt
        )
    }
}

extension Components.Schemas.SyncRun {
    init(_ run: SyncRun) {
        self.init(
            id: run.id.description, connectionId: run.connectionID.description,
            kind: run.kind == .full ? .full : .incremental,
            status: Components.Schemas.SyncRun.StatusPayload(rawValue: run.status.rawValue) ?? .failed,
            trigger: Components.Schemas.SyncRun.TriggerPayload(rawValue: run.trigger.rawValue) ?? .api,
            confirmDeletions: run.confirmsDeletions, domainController: run.domainController, startedAt: run.startedAt,
            finishedAt: run.finishedAt, objectsRead: run.objectsRead,
            counts: .init(
                additionalProperties: run.counts.byKind.mapValues { tally in
                    Components.Schemas.SyncRunTally(
                        added: tally.added, changed: tally.changed, moved: tally.moved, deleted: tally.deleted
                    )
                }
            ),
            pendingDeletions: run.pendingDeletions, error: run.error
        )
    }
}

extension Components.Schemas.DirectoryObject {
    init(_ entry: DirectoryEntry) {
        self.init(
            guid: entry.guid.description,
            kind: Components.Schemas.DirectoryObject.KindPayload(rawValue: entry.kind.rawValue) ?? .user,
            dn: entry.dn, parentGuid: entry.parentGUID?.description, name: entry.name,
            samAccountName: entry.samAccountName, userPrincipalName: entry.userPrincipalName,
            dnsHostName: entry.dnsHostName, displayName: entry.displayName, sid: entry.sid,
            disabled: entry.isDisabled, primaryGroupId: entry.primaryGroupID, groupType: entry.groupType
        )
    }
}

extension Components.Schemas.DirectoryGroupMembership {
    init(_ membership: DirectoryGroupMembership) {
        self.init(
            guid: membership.group.description, name: membership.name, dn: membership.dn, depth: membership.depth,
            chain: membership.chain.map(\.description)
        )
    }
}
