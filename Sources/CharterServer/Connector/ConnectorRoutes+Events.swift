import CharterAgentWire
import CharterCore
import CharterJSON
import CharterServices
import CharterStore
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

extension ConnectorRoutes {
    /// The most commands one reconnect replays; commands are hints, and a connector reads its work after every
    /// reconnect, so one further behind loses nothing.
    static let replayLimit = 1000

    /// `GET /v1/connector/events`: a server-sent event stream of the connector's commands, or with
    /// `Accept: application/json` a long poll (docs/connector-protocol.md, "Commands").
    func events(_ request: Request, context: AppRequestContext) async throws -> Response {
        let connector = try await authenticator.authenticate(request, context: context, allowsOutdated: true)
        let accept = request.headers[.accept] ?? ""
        let lastEventID = try AgentRoutes.lastEventID(request)
        let isPoll = accept.contains("application/json") && !accept.contains("text/event-stream")
        if connector.protocolVersion < protocolRange.minimum {
            return try updateHint(isPoll: isPoll, lastEventID: lastEventID)
        }
        if isPoll {
            let wait = try AgentRoutes.waitSeconds(request, absent: 25)
            return try await poll(connector, after: lastEventID, wait: wait, context: context)
        }
        if drain.isDraining {
            throw Problem(
                .serviceUnavailable, "This replica is shutting down; reconnect (to another one) shortly.",
                retryAfterSeconds: Int.random(in: 1...5)
            )
        }
        // One stream per connector on this replica: a newer one closes the older.
        let subscription = try await hub.subscribe(
            .connector(connector.connector), tenant: connector.tenant, isStream: true,
            client: context.remoteAddress?.ipAddress
        )
        let replay: [HubMessage]
        do {
            replay = try await self.replay(connector, after: lastEventID, context: context)
        } catch {
            await hub.unsubscribe(subscription.id)
            throw error
        }
        // Rows the hub has not handed out yet may already be in the replay: the stream skips what it sent.
        let position = max(subscription.position, lastEventID ?? 0, replay.compactMap(\.sequence).max() ?? 0)
        return stream(subscription, replay: replay, position: position, connector: connector)
    }

    /// The one answer a connector below the protocol range gets on its stream: the `update` event, then the end
    /// (it retries hourly, docs/connector-protocol.md, "Versions").
    private func updateHint(isPoll: Bool, lastEventID: Int64?) throws -> Response {
        let data = #"{"maximum":\#(protocolRange.maximum),"minimum":\#(protocolRange.minimum)}"#
        let last = String(lastEventID ?? 0)
        if isPoll {
            let event = EventPoll.Event(
                id: last, event: "update", data: try JSONDecoder().decode(JSONValue.self, from: Data(data.utf8))
            )
            return try AgentJSON.response(EventPoll(events: [event], lastEventID: last))
        }
        return Response(
            status: .ok, headers: [.contentType: "text/event-stream", .cacheControl: "no-store"],
            body: .init(byteBuffer: ByteBuffer(string: "retry: 3600000\n\nevent: update\ndata: \(data)\n\n"))
        )
    }

    /// The stream's response: `retry`, the replay and `ready`, then what the hub hands out after `position`.
    private func stream(
        _ subscription: EventHub.Subscription, replay: [HubMessage], position: Int64, connector: AuthenticatedConnector
    ) -> Response {
        var opening = "retry: 5000\n\n"
        for message in replay { opening += ServerSentEvent.encode(message) }
        opening += ServerSentEvent.encode(
            id: position, name: "ready",
            data: #"{"connector_id":"\#(connector.connector)","heartbeat_seconds":\#(connectors.limits.heartbeatSeconds)}"#
        )
        let headers: HTTPFields = [
            .contentType: "text/event-stream", .cacheControl: "no-store",
            HTTPField.Name("X-Accel-Buffering")!: "no",
        ]
        let hub = self.hub
        let text = opening
        return Response(
            status: .ok, headers: headers,
            body: ResponseBody { writer in
                do {
                    try await writer.write(ByteBuffer(string: text))
                    for await message in subscription.messages {
                        if case .event(let id, _, _) = message, id <= position { continue }
                        try await writer.write(ByteBuffer(string: ServerSentEvent.encode(message)))
                        if case .close = message { break }
                    }
                    await hub.unsubscribe(subscription.id)
                    try await writer.finish(nil)
                } catch {
                    await hub.unsubscribe(subscription.id)
                    throw error
                }
            }
        )
    }

    /// The long-polling fallback: answers as soon as there is a command after `after`, or after `wait` seconds.
    private func poll(
        _ connector: AuthenticatedConnector, after lastEventID: Int64?, wait: Int, context: AppRequestContext
    ) async throws -> Response {
        let (position, events) = try await hub.withSubscription(.connector(connector.connector), tenant: connector.tenant) {
            subscription -> (Int64, [HubMessage]) in
            guard let lastEventID else { return (subscription.position, []) }
            let replayed = try await replay(connector, after: lastEventID, context: context)
            guard replayed.isEmpty, wait > 0 else { return (subscription.position, replayed) }
            let live = await subscription.firstEvent(within: .seconds(wait)) { id, _, _ in id > lastEventID }
            return (subscription.position, live.map { [$0] } ?? [])
        }
        var last = max(position, lastEventID ?? 0)
        var answer: [EventPoll.Event] = []
        for case .event(let id, let name, let data) in events {
            answer.append(
                .init(id: String(id), event: name, data: try JSONDecoder().decode(JSONValue.self, from: Data(data.utf8)))
            )
            last = max(last, id)
        }
        return try AgentJSON.response(EventPoll(events: answer, lastEventID: String(last)))
    }

    /// The commands for the connector after `after`, as events.
    private func replay(
        _ connector: AuthenticatedConnector, after: Int64?, context: AppRequestContext
    ) async throws -> [HubMessage] {
        guard let after else { return [] }
        let (entries, _) = try await connectors.missedCommands(
            of: connector, after: after, limit: Self.replayLimit, logger: context.logger
        )
        return entries.compactMap { entry in
            EventHub.connectorCommand(entry.data).map { .event(id: entry.sequence, name: $0.name, data: $0.data) }
        }
    }
}

extension HubMessage {
    /// The feed sequence number of an event.
    var sequence: Int64? {
        if case .event(let id, _, _) = self { return id }
        return nil
    }
}
