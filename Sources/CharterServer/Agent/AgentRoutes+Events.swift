import CharterAgentWire
import CharterBundle
import CharterCore
import CharterServices
import CharterStore
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

extension AgentRoutes {
    /// `GET /v1/agent/events`: a server-sent event stream, or with `Accept: application/json` a long poll.
    ///
    /// Answered from a child task (``EventStreamResponder``), so the connection's task, which then writes the
    /// stream for hours, keeps none of the frames that authenticated and subscribed it.
    func events(_ request: Request, context: AppRequestContext) async throws -> Response {
        let caller = try await authenticate(request, context: context)
        let accept = request.headers[.accept] ?? ""
        let lastEventID = try Self.lastEventID(request)
        if accept.contains("application/json"), !accept.contains("text/event-stream") {
            let wait = try Self.waitSeconds(request, absent: 25)
            return try await poll(caller, after: lastEventID, wait: wait, context: context)
        }
        if drain.isDraining {
            throw Problem(
                .serviceUnavailable, "This replica is shutting down; reconnect (to another one) shortly.",
                retryAfterSeconds: Int.random(in: 1...5)
            )
        }
        let (subscription, replay) = try await subscribe(caller, after: lastEventID, context: context)
        await hub.pushAfterReplay(replay, to: caller.device, in: caller.binding)
        // Rows the hub has not handed out yet may already be in the replay: the stream skips what it sent.
        let position = max(subscription.position, lastEventID ?? 0, Self.lastID(of: replay) ?? 0)
        return stream(subscription, replay: replay, position: position, caller: caller)
    }

    /// Subscribes the device's event stream and reads what it missed; records a stream replaced from elsewhere.
    private func subscribe(
        _ caller: Caller, after lastEventID: Int64?, context: AppRequestContext
    ) async throws -> (EventHub.Subscription, [HubMessage]) {
        let client = context.remoteAddress?.ipAddress
        let subscription = try await hub.subscribe(
            device: caller.device, tenant: caller.tenant, isStream: true, client: client,
            bundles: hub.pushesBundles ? caller.binding : nil
        )
        do {
            // Another client holding the device's token (a copied credential) shows as a stream replaced from
            // elsewhere; a reconnect from the same address is routine.
            let foreign = subscription.replaced.filter { $0 != client }
            if !foreign.isEmpty {
                let origin = EndpointService.Origin(requestID: context.requestID, clientIP: client, logger: context.logger)
                try await endpoints.recordReplacedStream(caller, replaced: foreign, origin: origin)
            }
            let replay = try await self.replay(caller, after: lastEventID, position: subscription.position, context: context)
            return (subscription, replay)
        } catch {
            await hub.unsubscribe(subscription.id)
            throw error
        }
    }

    /// The stream's response: `retry`, the replay and `ready`, then what the hub hands out after `position`.
    private func stream(
        _ subscription: EventHub.Subscription, replay: [HubMessage], position: Int64, caller: Caller
    ) -> Response {
        var opening = "retry: 5000\n\n"
        for message in replay { opening += ServerSentEvent.encode(message) }
        let push = hub.pushesBundles ? #","bundle_push_seconds":\#(EventHub.pushWaitSeconds)"# : ""
        opening += ServerSentEvent.encode(
            id: position, name: "ready",
            data: #"{"device_id":"\#(caller.device)","heartbeat_seconds":\#(EventHub.heartbeatInterval.components.seconds)\#(push)}"#
        )
        let headers: HTTPFields = [
            .contentType: "text/event-stream", .cacheControl: "no-store",
            HTTPField.Name("X-Accel-Buffering")!: "no",
        ]
        return Response(
            status: .ok, headers: headers,
            body: ResponseBody(Self.write(opening, then: subscription, after: position, hub: self.hub))
        )
    }

    /// Writes `opening`, then the subscription's messages after `position` until the hub closes it.
    private static func write(
        _ opening: String, then subscription: EventHub.Subscription, after position: Int64, hub: EventHub
    ) -> @concurrent @Sendable (inout any ResponseBodyWriter) async throws -> Void {
        { writer in
            do {
                try await writer.write(ByteBuffer(string: opening))
                for await message in subscription.messages {
                    if case .event(let id, _, _) = message, id <= position { continue }
                    try await writer.write(ByteBuffer(string: ServerSentEvent.encode(message)))
                    if case .event(let id, _, _) = message { hub.deliveries.written(id) }
                    if case .close = message { break }
                }
                await hub.unsubscribe(subscription.id)
                try await writer.finish(nil)
            } catch {
                await hub.unsubscribe(subscription.id)
                throw error
            }
        }
    }

    /// How long a long poll (`/v1/agent/events`, `/v1/agent/requests/{id}`) may hold a request.
    static let maximumWaitSeconds = 60

    /// A long poll's `wait` query parameter: whole seconds from 0 to ``maximumWaitSeconds``, `absent` when the
    /// request has none.
    static func waitSeconds(_ request: Request, absent: Int) throws -> Int {
        guard let raw = request.uri.queryParameters["wait"] else { return absent }
        guard let value = Int(String(raw)), (0...maximumWaitSeconds).contains(value) else {
            throw Problem(.validationFailed, "wait must be a whole number of seconds from 0 to 60.", field: "wait")
        }
        return value
    }

    /// The long-polling fallback: answers as soon as there is an event after `after`, or after `wait` seconds.
    private func poll(
        _ caller: Caller, after lastEventID: Int64?, wait: Int, context: AppRequestContext
    ) async throws -> Response {
        let (position, events) = try await hub.withSubscription(device: caller.device, tenant: caller.tenant) {
            subscription -> (Int64, [HubMessage]) in
            guard let lastEventID else { return (subscription.position, []) }
            let replayed = try await replay(caller, after: lastEventID, position: subscription.position, context: context)
            guard replayed.isEmpty, wait > 0 else { return (subscription.position, replayed) }
            let live = await subscription.firstEvent(within: .seconds(wait)) { id, _, _ in id > lastEventID }
            return (subscription.position, live.map { [$0] } ?? [])
        }
        var last = max(position, lastEventID ?? 0)
        var answer: [EventPoll.Event] = []
        for case .event(let id, let name, let data) in events {
            answer.append(.init(id: String(id), event: name, data: try JSONDecoder().decode(JSONValue.self, from: Data(data.utf8))))
            last = max(last, id)
        }
        return try AgentJSON.response(EventPoll(events: answer, lastEventID: String(last)))
    }

    /// The most entries one reconnect replays; a device further behind gets a `resync` hint instead.
    static let replayLimit = 1000

    /// What the device missed after `after`: its `decision` events and the last `bundle` hint, read from the
    /// table up to its newest row (which may be newer than what the hub has handed out). When the feed
    /// no longer holds everything since then (pruned, or more than ``replayLimit`` entries), the decisions it
    /// still has and one `bundle` hint with reason `resync` at `position`, the stream's position.
    private func replay(
        _ caller: Caller, after: Int64?, position: Int64, context: AppRequestContext
    ) async throws -> [HubMessage] {
        guard let after else { return [] }
        let (entries, prunedThrough) = try await endpoints.missedEntries(
            of: caller, after: after, limit: Self.replayLimit, logger: context.logger
        )
        if after < prunedThrough || entries.count == Self.replayLimit {
            let decisions = entries.filter { $0.event == .decision }.map { entry in
                HubMessage.event(id: entry.sequence, name: entry.event.rawValue, data: entry.data)
            }
            let last = max(position, entries.last?.sequence ?? 0, after, prunedThrough)
            return decisions + [.event(id: last, name: ChangeFeedEntry.Event.bundle.rawValue, data: #"{"reason":"resync"}"#)]
        }
        let lastBundle = entries.last { $0.event == .bundle }?.sequence
        return entries.compactMap { entry in
            if entry.event == .bundle, entry.sequence != lastBundle { return nil }
            return .event(id: entry.sequence, name: entry.event.rawValue, data: entry.data)
        }
    }

    private static func lastID(of messages: [HubMessage]) -> Int64? {
        messages.compactMap { message -> Int64? in
            if case .event(let id, _, _) = message { return id }
            return nil
        }.max()
    }

    /// `Last-Event-ID` (header) or `last_event_id` (query); an id this service never sent counts as none.
    static func lastEventID(_ request: Request) throws -> Int64? {
        let raw = request.headers[HTTPField.Name("Last-Event-ID")!] ?? request.uri.queryParameters["last_event_id"].map(String.init)
        guard let raw, !raw.isEmpty else { return nil }
        guard let id = Int64(raw.trimmingCharacters(in: .whitespaces)), id >= 0 else { return nil }
        return id
    }
}

/// The text form of server-sent events (WHATWG HTML, "Server-sent events").
enum ServerSentEvent {
    static func encode(id: Int64, name: String, data: String) -> String {
        "id: \(id)\nevent: \(name)\ndata: \(data)\n\n"
    }

    static func encode(_ message: HubMessage) -> String {
        switch message {
        case .event(let id, let name, let data): encode(id: id, name: name, data: data)
        case .bundle(let data): "event: current_bundle\ndata: \(data)\n\n"
        case .heartbeat: ": heartbeat\n\n"
        case .close(let retry): "retry: \(retry)\n\n"
        }
    }
}
