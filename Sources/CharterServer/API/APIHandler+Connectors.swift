import CharterAgentWire
import CharterCore
import CharterServices
import CharterStore
import Foundation
import OpenAPIRuntime

extension APIHandler {
    // MARK: - Connectors

    func listConnectors(_ input: Operations.ListConnectors.Input) async throws -> Operations.ListConnectors.Output {
        let call = try TenantCall.authorize(.read, tenant: input.path.tenant)
        let limit = try Input.limit(input.query.limit)
        let cursor = try Cursor.decodeID(input.query.cursor, as: ConnectorID.self)
        let connectors = try await connectorService.connectors(
            of: call.tenant, msp: call.msp, after: cursor, limit: limit + 1, by: call.caller
        )
        let page = connectors.prefix(limit)
        let next = connectors.count > limit ? page.last.map { $0.connector.id.description } : nil
        return .ok(.init(body: .json(.init(items: page.map(Components.Schemas.Connector.init), nextCursor: next))))
    }

    func getConnector(_ input: Operations.GetConnector.Input) async throws -> Operations.GetConnector.Output {
        let call = try TenantCall.authorize(.read, tenant: input.path.tenant)
        let id: ConnectorID = try Input.id(input.path.id)
        let connector = try await connectorService.connector(id, of: call.tenant, msp: call.msp, by: call.caller)
        return .ok(.init(body: .json(.init(connector))))
    }

    func revokeConnector(_ input: Operations.RevokeConnector.Input) async throws -> Operations.RevokeConnector.Output {
        let call = try TenantCall.authorize(.configure, tenant: input.path.tenant)
        let id: ConnectorID = try Input.id(input.path.id)
        let connector = try await connectorService.revoke(id, of: call.tenant, msp: call.msp, by: call.caller)
        return .ok(.init(body: .json(.init(connector))))
    }
}

extension Components.Schemas.Connector {
    init(_ details: ConnectorService.Details) {
        let connector = details.connector
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        // Stored from validated heartbeats; an unreadable value shows as none rather than failing the read.
        let controllers =
            (try? decoder.decode([DomainControllerStatus].self, from: Data(connector.domainControllers.utf8))) ?? []
        self.init(
            id: connector.id.description, name: connector.name, hostname: connector.hostname, version: connector.version,
            protocolVersion: connector.protocolVersion, enrolledAt: connector.enrolledAt,
            lastSeenAt: connector.lastSeenAt, lastSeenIp: connector.lastSeenIP, revokedAt: connector.revokedAt,
            tokenExpiresAt: connector.tokenExpiresAt, signingKeyThumbprint: connector.signingKeyThumbprint,
            status: .init(details.status),
            domainControllers: controllers.map {
                .init(url: $0.url, reachable: $0.reachable, checkedAt: $0.checkedAt, error: $0.error)
            },
            connections: details.connections.map { connections in
                connections.map {
                    .init(
                        connectionId: $0.connection.description, name: $0.name, active: $0.isActive,
                        leaseExpiresAt: $0.leaseExpiresAt
                    )
                }
            },
            lastSync: details.lastSync.map {
                .init(
                    runId: $0.run.description, connectionId: $0.connection.description, status: .init($0.status),
                    startedAt: $0.startedAt, finishedAt: $0.finishedAt, error: $0.error
                )
            }
        )
    }
}

extension Components.Schemas.Connector.StatusPayload {
    init(_ status: ConnectorService.Status) {
        switch status {
        case .online: self = .online
        case .offline: self = .offline
        case .revoked: self = .revoked
        }
    }
}

extension Components.Schemas.ConnectorLastSync.StatusPayload {
    init(_ status: SyncRun.Status) {
        switch status {
        case .running: self = .running
        case .succeeded: self = .succeeded
        case .failed: self = .failed
        case .needsConfirmation: self = .needsConfirmation
        }
    }
}
