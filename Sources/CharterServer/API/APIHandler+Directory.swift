import CharterCore
import CharterServices
import CharterStore
import Foundation
import OpenAPIRuntime

extension APIHandler {
    // MARK: - Connections

    func listDirectoryConnections(
        _ input: Operations.ListDirectoryConnections.Input
    ) async throws -> Operations.ListDirectoryConnections.Output {
        let call = try TenantCall.authorize(.read, tenant: input.path.tenant)
        let limit = try Input.limit(input.query.limit)
        let cursor = try Cursor.decodeID(input.query.cursor, as: DirectoryConnectionID.self)
        let connections = try await directory.connections(
            after: cursor, limit: limit + 1, of: call.tenant, msp: call.msp, by: call.caller
        )
        let page = connections.prefix(limit)
        let next = connections.count > limit ? page.last.map { $0.id.description } : nil
        return .ok(.init(body: .json(.init(items: page.map(Components.Schemas.DirectoryConnection.init), nextCursor: next))))
    }

    func createDirectoryConnection(
        _ input: Operations.CreateDirectoryConnection.Input
    ) async throws -> Operations.CreateDirectoryConnection.Output {
        let call = try TenantCall.authorize(.configure, tenant: input.path.tenant)
        guard case .json(let body) = input.body else { throw Problem(.unsupportedMediaType, "Send application/json.") }
        let connection = try await directory.createConnection(
            .init(body), in: call.tenant, msp: call.msp, by: call.caller
        )
        return .created(.init(headers: .init(eTag: ETag.value(connection.version)), body: .json(.init(connection))))
    }

    func getDirectoryConnection(
        _ input: Operations.GetDirectoryConnection.Input
    ) async throws -> Operations.GetDirectoryConnection.Output {
        let call = try TenantCall.authorize(.read, tenant: input.path.tenant)
        let id = try DirectoryInput.connectionID(input.path.connection)
        let connection = try await directory.connection(id, of: call.tenant, msp: call.msp, by: call.caller)
        return .ok(.init(headers: .init(eTag: ETag.value(connection.version)), body: .json(.init(connection))))
    }

    func updateDirectoryConnection(
        _ input: Operations.UpdateDirectoryConnection.Input
    ) async throws -> Operations.UpdateDirectoryConnection.Output {
        let call = try TenantCall.authorize(.configure, tenant: input.path.tenant)
        let id = try DirectoryInput.connectionID(input.path.connection)
        guard case .json(let body) = input.body else { throw Problem(.unsupportedMediaType, "Send application/json.") }
        let updated = try await directory.updateConnection(
            id, with: .init(body), expectedVersion: ETag.expectedVersion(input.headers.ifMatch), in: call.tenant,
            msp: call.msp, by: call.caller
        )
        return .ok(.init(headers: .init(eTag: ETag.value(updated.version)), body: .json(.init(updated))))
    }

    func deleteDirectoryConnection(
        _ input: Operations.DeleteDirectoryConnection.Input
    ) async throws -> Operations.DeleteDirectoryConnection.Output {
        let call = try TenantCall.authorize(.configure, tenant: input.path.tenant)
        let id = try DirectoryInput.connectionID(input.path.connection)
        try await directory.deleteConnection(
            id, expectedVersion: ETag.expectedVersion(input.headers.ifMatch), in: call.tenant, msp: call.msp,
            by: call.caller
        )
        return .noContent(.init())
    }

    // MARK: - Sync runs

    func syncDirectoryConnection(
        _ input: Operations.SyncDirectoryConnection.Input
    ) async throws -> Operations.SyncDirectoryConnection.Output {
        let call = try TenantCall.authorize(.configure, tenant: input.path.tenant)
        let id = try DirectoryInput.connectionID(input.path.connection)
        var kind = SyncRun.Kind.incremental
        var confirms = false
        if case .json(let body)? = input.body {
            if body.kind == .full { kind = .full }
            confirms = body.confirmDeletions ?? false
        }
        let run = try await directory.startSync(
            of: id, kind: kind, confirmsDeletions: confirms, in: call.tenant, msp: call.msp, by: call.caller
        )
        return .accepted(.init(headers: .init(location: Self.location(of: run, in: call.tenant)), body: .json(.init(run))))
    }

    func confirmSyncRun(_ input: Operations.ConfirmSyncRun.Input) async throws -> Operations.ConfirmSyncRun.Output {
        let call = try TenantCall.authorize(.configure, tenant: input.path.tenant)
        let id = try DirectoryInput.runID(input.path.run)
        let run = try await directory.confirm(id, in: call.tenant, msp: call.msp, by: call.caller)
        return .accepted(.init(headers: .init(location: Self.location(of: run, in: call.tenant)), body: .json(.init(run))))
    }

    func listSyncRuns(_ input: Operations.ListSyncRuns.Input) async throws -> Operations.ListSyncRuns.Output {
        let call = try TenantCall.authorize(.read, tenant: input.path.tenant)
        let limit = try Input.limit(input.query.limit)
        let cursor = try Cursor.decodeID(input.query.cursor, as: SyncRunID.self)
        let connection = try input.query.connection.map { raw in
            guard let id = DirectoryConnectionID(raw) else {
                throw Problem(.malformedRequest, "connection must be a connection id (a UUID).", field: "connection")
            }
            return id
        }
        let runs = try await directory.runs(
            of: connection, after: cursor, limit: limit + 1, in: call.tenant, msp: call.msp, by: call.caller
        )
        let page = runs.prefix(limit)
        let next = runs.count > limit ? page.last.map { $0.id.description } : nil
        return .ok(.init(body: .json(.init(items: page.map(Components.Schemas.SyncRun.init), nextCursor: next))))
    }

    func getSyncRun(_ input: Operations.GetSyncRun.Input) async throws -> Operations.GetSyncRun.Output {
        let call = try TenantCall.authorize(.read, tenant: input.path.tenant)
        let id = try DirectoryInput.runID(input.path.run)
        let run = try await directory.run(id, of: call.tenant, msp: call.msp, by: call.caller)
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

    /// Where a run can be read while it works.
    private static func location(of run: SyncRun, in tenant: TenantID) -> String {
        "/v1/tenants/\(tenant)/directory/sync-runs/\(run.id)"
    }

    private func search(
        _ rawTenant: String, _ kinds: [DirectoryObjectKind], _ query: String?, _ rawLimit: Int?, _ rawCursor: String?
    ) async throws -> Components.Schemas.DirectoryObjectList {
        let call = try TenantCall.authorize(.read, tenant: rawTenant)
        let limit = try Input.limit(rawLimit)
        let cursor = try rawCursor.map { value in
            guard let guid = ObjectGUID(value) else { throw Cursor.malformed }
            return guid
        }
        let text = try Input.text(query, field: "q", maxLength: 200)?.trimmingCharacters(in: .whitespaces)
        let entries = try await directory.objects(
            kinds, matching: text?.isEmpty == false ? text : nil, after: cursor, limit: limit + 1, in: call.tenant,
            msp: call.msp, by: call.caller
        )
        let page = entries.prefix(limit)
        let next = entries.count > limit ? page.last.map { $0.guid.description } : nil
        return .init(items: page.map(Components.Schemas.DirectoryObject.init), nextCursor: next)
    }

    private func object(
        _ rawTenant: String, _ rawGUID: String, _ kinds: [DirectoryObjectKind]
    ) async throws -> Components.Schemas.DirectoryObject {
        let call = try TenantCall.authorize(.read, tenant: rawTenant)
        let guid = try DirectoryInput.guid(rawGUID)
        return .init(try await directory.object(guid, kinds: kinds, in: call.tenant, msp: call.msp, by: call.caller))
    }

    private func memberships(
        _ rawTenant: String, _ rawGUID: String, _ kinds: [DirectoryObjectKind]
    ) async throws -> Components.Schemas.DirectoryMemberships {
        let call = try TenantCall.authorize(.read, tenant: rawTenant)
        let guid = try DirectoryInput.guid(rawGUID)
        let (groups, path) = try await directory.memberships(
            of: guid, kinds: kinds, in: call.tenant, msp: call.msp, by: call.caller
        )
        let transitive = groups.map(Components.Schemas.DirectoryGroupMembership.init)
        return .init(
            direct: transitive.filter { $0.depth == 1 }, transitive: transitive,
            ouPath: path.map(Components.Schemas.DirectoryObject.init)
        )
    }
}

/// The ids of directory paths, each failing with a problem that names the parameter.
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
}

extension DirectoryConnectionDraft {
    init(_ body: Components.Schemas.DirectoryConnectionCreate) {
        self.init(
            name: body.name, mode: body.mode.map(DirectoryConnectionMode.init), urls: body.urls, baseDN: body.baseDn,
            bindDN: body.bindDn, bindPassword: body.bindPassword, tlsMode: body.tlsMode.map(DirectoryConnection.TLSMode.init),
            caPEM: body.caPem, connectorIDs: body.connectorIds, intervalSeconds: body.intervalSeconds,
            deletionThresholdObjects: body.deletionThresholdObjects,
            deletionThresholdPercent: body.deletionThresholdPercent, isEnabled: body.enabled
        )
    }
}

extension DirectoryConnectionPatch {
    init(_ body: Components.Schemas.DirectoryConnectionUpdate) {
        self.init(
            name: body.name, mode: body.mode.map(DirectoryConnectionMode.init), urls: body.urls, baseDN: body.baseDn,
            bindDN: body.bindDn, bindPassword: body.bindPassword,
            tlsMode: body.tlsMode.map(DirectoryConnection.TLSMode.init), caPEM: body.caPem,
            connectorIDs: body.connectorIds, intervalSeconds: body.intervalSeconds,
            deletionThresholdObjects: body.deletionThresholdObjects,
            deletionThresholdPercent: body.deletionThresholdPercent, isEnabled: body.enabled
        )
    }
}

extension DirectoryConnectionMode {
    init(_ mode: Components.Schemas.DirectoryConnectionMode) {
        switch mode {
        case .direct: self = .direct
        case .connector: self = .connector
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

extension Components.Schemas.DirectoryConnection {
    init(_ connection: DirectoryConnection) {
        let ldap = connection.ldap
        let tlsMode: Components.Schemas.DirectoryTLSMode? = ldap.map { settings in
            switch settings.tlsMode {
            case .ldaps: .ldaps
            case .startTLS: .startTls
            case .plain: .plain
            }
        }
        self.init(
            id: connection.id.description, tenantId: connection.tenantID.description, name: connection.name,
            mode: ldap == nil ? .connector : .direct, connectorIds: connection.connectorIDs.map(\.description),
            activeConnectorId: connection.activeConnectorID?.description, urls: ldap?.urls, baseDn: ldap?.baseDN,
            bindDn: ldap?.bindDN, hasPassword: !(ldap?.sealedPassword.isEmpty ?? true), tlsMode: tlsMode,
            caPem: ldap?.caPEM, intervalSeconds: Int(connection.interval.components.seconds),
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
