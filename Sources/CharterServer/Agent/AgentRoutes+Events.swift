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
    func events(_ request: Request, context: AppRequestContext) async throws -> Response {
        let caller = try await authenticate(request, context: context)
        let accept = request.headers[.accept] ?? ""
        let lastEventID = try Self.lastEventID(request)
        if accept.contains("application/json"), !accept.contains("text/event-stream") {
            return try await poll(caller, after: lastEventID, request: request, context: context)
        }
        if drain.isDraining {
            throw Problem(
                .serviceUnavailable, "This replica is shutting down; reconnect (to another one) shortly.",
                retryAfterSeconds: Int.random(in: 1...5)
            )
        }
        let client = context.remoteAddress?.ipAddress
        let subscription = try await hub.subscribe(device: caller.device, tenant: caller.tenant, isStream: true, client: client)
        let replay: [HubMessage]
        do {
            // Another client holding the device's token (a copied credential) shows as a stream replaced from
            // elsewhere; a reconnect from the same address is routine.
            let foreign = subscription.replaced.filter { $0 != client }
            if !foreign.isEmpty {
                try await auditReplacedStream(caller, client: client, replaced: foreign, context: context)
            }
            replay = try await self.replay(caller, after: lastEventID, position: subscription.position, context: context)
        } catch {
            await hub.unsubscribe(subscription.id)
            throw error
        }
        let hub = self.hub
        // Rows the hub has not handed out yet may already be in the replay: the stream skips what it sent.
        let position = max(subscription.position, lastEventID ?? 0, Self.lastID(of: replay) ?? 0)
        let ready = ServerSentEvent.encode(
            id: position, name: "ready",
            data: #"{"device_id":"\#(caller.device)","heartbeat_seconds":\#(EventHub.heartbeatInterval.components.seconds)}"#
        )
        let headers: HTTPFields = [
            .contentType: "text/event-stream", .cacheControl: "no-store",
            HTTPField.Name("X-Accel-Buffering")!: "no",
        ]
        return Response(
            status: .ok,
            headers: headers,
            body: ResponseBody { writer in
                do {
                    var opening = "retry: 5000\n\n"
                    for message in replay { opening += ServerSentEvent.encode(message) }
                    opening += ready
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
        )
    }

    /// Records `device.stream_replaced`: the device's event stream from one address was replaced by one from another.
    private func auditReplacedStream(
        _ caller: Caller, client: String?, replaced: [String?], context: AppRequestContext
    ) async throws {
        let now = now()
        try await database.withTenant(caller.tenant, msp: caller.msp, logger: context.logger) { tx in
            try await tx.audit.append(
                AuditRecord(
                    occurredAt: now,
                    actor: AuditRecord.Actor(
                        id: caller.device.rawValue, name: "device", requestID: context.requestID, clientIP: client
                    ),
                    action: "device.stream_replaced", targetType: "device", targetID: caller.device.description,
                    after: AuditJSON.encode(["replaced_client_ips": replaced.map { $0 ?? "" }, "client_ip": client ?? ""])
                ),
                to: .tenant(caller.tenant)
            )
        }
    }

    /// The long-polling fallback: answers as soon as there is an event after `after`, or after `wait` seconds.
    private func poll(
        _ caller: Caller, after lastEventID: Int64?, request: Request, context: AppRequestContext
    ) async throws -> Response {
        let waitText = request.uri.queryParameters["wait"].map(String.init)
        let wait: Int
        if let waitText {
            guard let value = Int(waitText), (0...60).contains(value) else {
                throw Problem(.validationFailed, "wait must be a whole number of seconds from 0 to 60.", field: "wait")
            }
            wait = value
        } else {
            wait = 25
        }
        let (position, events) = try await hub.withSubscription(device: caller.device, tenant: caller.tenant) {
            subscription -> (Int64, [HubMessage]) in
            guard let lastEventID else { return (subscription.position, []) }
            let replayed = try await replay(caller, after: lastEventID, position: subscription.position, context: context)
            guard replayed.isEmpty, wait > 0 else { return (subscription.position, replayed) }
            let live = await subscription.firstEvent(within: .seconds(wait)) { id, _, _ in id > lastEventID }
            return (subscription.position, live.map { [$0] } ?? [])
        }
        struct Answer: Encodable {
            struct Event: Encodable {
                var id: String
                var event: String
                var data: JSONObjectText
            }

            var events: [Event]
            var last_event_id: String
        }
        var last = max(position, lastEventID ?? 0)
        var answer: [Answer.Event] = []
        for case .event(let id, let name, let data) in events {
            answer.append(.init(id: String(id), event: name, data: JSONObjectText(text: data)))
            last = max(last, id)
        }
        return try AgentJSON.response(Answer(events: answer, last_event_id: String(last)))
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
        let (entries, prunedThrough) = try await database.withTenant(caller.tenant, msp: caller.msp, logger: context.logger) { tx in
            (
                try await tx.changeFeed.entries(
                    of: caller.tenant, for: caller.device, after: after, through: .max, limit: Self.replayLimit
                ),
                try await tx.changeFeed.prunedThrough(of: caller.tenant)
            )
        }
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
    private static func lastEventID(_ request: Request) throws -> Int64? {
        let raw = request.headers[HTTPField.Name("Last-Event-ID")!] ?? request.uri.queryParameters["last_event_id"].map(String.init)
        guard let raw, !raw.isEmpty else { return nil }
        guard let id = Int64(raw.trimmingCharacters(in: .whitespaces)), id >= 0 else { return nil }
        return id
    }
}

/// A JSON object kept as its text and written into an answer unchanged.
struct JSONObjectText: Encodable {
    let text: String

    func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        let value = try JSONDecoder().decode(JSONValue.self, from: Data(text.utf8))
        try container.encode(value)
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
        case .heartbeat: ": heartbeat\n\n"
        case .close(let retry): "retry: \(retry)\n\n"
        }
    }
}
