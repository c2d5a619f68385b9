package import CharterCore
package import CharterStore
import CharterJSON
package import Foundation
package import Logging
import Metrics
package import ServiceLifecycle
import Synchronization

/// What a connected device's stream receives.
package enum HubMessage: Sendable, Equatable {
    /// A hint: `id` is the change-feed sequence number.
    case event(id: Int64, name: String, data: String)
    /// The device's current bundle, pushed on its event stream after a `bundle` hint: the data of a
    /// `current_bundle` event (docs/agent-protocol.md), which carries no id.
    case bundle(data: String)
    /// Nothing happened; keeps proxies from closing an idle stream.
    case heartbeat
    /// The replica is shutting down: tell the agent when to reconnect, then close.
    case close(retryMilliseconds: Int)
}

/// Fans the durable change feed out to the devices and connectors connected to this replica.
///
/// Devices get the device hints (`bundle`, `decision`); connectors get only the `connector` entries that name
/// them, each as the server-sent event the entry's data names (docs/connector-protocol.md, "Commands"). A
/// `disconnect` entry closes the streams of the devices or connectors it names.
///
/// The hub `LISTEN`s on ``ChangeFeedRepository/channel``; on every notification (and every few seconds,
/// in case one was lost) it reads the entries it has not seen — those after the newest its previous read
/// showed, and those of the transactions still running then (``ChangeFeedCursor``) — and hands each entry that
/// lies after its position in the entry's tenant to the subscribed devices it concerns. Within a tenant entries
/// become visible in sequence order; across tenants they need not (migration 0026: each tenant appends under
/// a lock of its own). A notification's read runs on the listening connection, so that it
/// never waits for a pooled one: requests can hold all of those for long (200 approvals queued on one tenant's
/// audit-chain lock held the 20 of them for a second, and the decision hints waited as long). When the
/// listening connection breaks it reconnects with backoff and reads on from where it stopped, so entries
/// written meanwhile still arrive.
///
/// With a ``BundleSource`` (``pushBundles(from:)``), a device stream that a `bundle` hint reaches then gets the
/// device's current bundle too, made for a batch of the tenant's devices at a time, so a change wave does not
/// become one bundle fetch per device (docs/architecture.md, "Real time").
package actor EventHub: Service {
    /// Who holds a subscription.
    package enum Member: Hashable, Sendable {
        case device(DeviceID)
        case connector(ConnectorID)
    }

    package struct Subscription: Sendable {
        package let id: UInt64
        package let member: Member
        package let tenant: TenantID
        /// Everything of the tenant up to here was in the feed before the subscription; the tenant's later
        /// entries arrive on `messages`.
        package let position: Int64
        package let messages: AsyncStream<HubMessage>
        /// The client addresses of the device's event streams this one replaced (one stream per device).
        package let replaced: [String?]
    }

    private struct Subscriber {
        let member: Member
        let tenant: TenantID
        /// Whether this is the member's event stream, of which a replica keeps one (long polls are not).
        let isStream: Bool
        let client: String?
        /// Where the stream's pushed bundles are made (``BundleSource``); `nil` for streams that get none.
        let bundles: TenantBinding?
        let continuation: AsyncStream<HubMessage>.Continuation
    }

    /// Makes the current bundles of devices of one tenant, a batch at a time (``EndpointService``).
    package typealias BundleSource = @Sendable ([DeviceID], TenantBinding, Logger) async throws -> [DeviceID: StoredBundle]

    /// The devices of one tenant whose streams wait for a pushed bundle, in the order their hints came.
    private struct PendingPushes {
        var binding: TenantBinding
        var devices: [DeviceID] = []
        var queued: Set<DeviceID> = []

        /// Adds `device` unless it waits already.
        mutating func queue(_ device: DeviceID) {
            if queued.insert(device).inserted { devices.append(device) }
        }
    }

    private let database: Database
    private let logger: Logger
    private let pollInterval: Duration
    private var subscribers: [UInt64: Subscriber] = [:]
    private var byMember: [Member: Set<UInt64>] = [:]
    /// The device subscribers of each tenant (for hints to every device of a tenant).
    private var byTenant: [TenantID: Set<UInt64>] = [:]
    private var nextID: UInt64 = 0
    /// Where the next read of the feed starts. `nil` until the hub's first read, which takes it and hands out
    /// nothing older.
    private var cursor: ChangeFeedCursor?
    /// The last sequence number handed out in each tenant (or, for a tenant first subscribed to, the newest it
    /// had then): the subscriptions' positions.
    private var positions: [TenantID: Int64] = [:]
    private var draining = false
    private nonisolated let bundleSource = Mutex<BundleSource?>(nil)
    /// Devices waiting for a pushed bundle, by tenant, and the tenants in the order they started waiting.
    private var pendingPushes: [TenantID: PendingPushes] = [:]
    private var pushOrder: [TenantID] = []
    /// Batches being made now.
    private var pushesRunning = 0
    private let pushWakeups: AsyncStream<Void>
    private let pushWakeup: AsyncStream<Void>.Continuation
    /// `charter_event_streams`: agent event streams (and long polls) open on this replica.
    private let openStreams = Meter(label: "charter_event_streams")
    /// `charter_bundle_push_seconds`: one batch of pushed bundles, from its start to its last hand-out.
    private let pushBatches = Timer(label: "charter_bundle_push_seconds", preferredDisplayUnit: .seconds)
    /// `charter_bundles_pushed_total`: bundles handed to streams.
    private let bundlesPushed = Counter(label: "charter_bundles_pushed_total")
    /// When the recent feed entries were handed to the streams, for `charter_hint_delivery_seconds`.
    package nonisolated let deliveries = HintDeliveries()

    /// How often an idle stream gets a heartbeat.
    package static let heartbeatInterval = Duration.seconds(15)
    /// How many messages a stream's buffer holds before the oldest are dropped.
    package static let streamBuffer = 256
    /// How many devices' bundles one push makes, in one transaction.
    package static let pushBatchSize = 250
    /// How many batches are made at once: one batch's statements overlap another's signing and sealing.
    package static let concurrentPushes = 4
    /// How long an agent waits for a pushed bundle after a hint before it fetches (announced in `ready`).
    package static let pushWaitSeconds = 10

    /// How long the change feed keeps an entry; an agent away longer resyncs (docs/agent-protocol.md).
    package static let retentionSeconds = 7 * 86_400
    /// How often a replica prunes the feed.
    package static let pruneInterval = Duration.seconds(3600)

    package init(database: Database, logger: Logger, pollInterval: Duration = .seconds(5)) {
        self.database = database
        var logger = logger
        logger[metadataKey: "component"] = "event-hub"
        self.logger = logger
        self.pollInterval = pollInterval
        (pushWakeups, pushWakeup) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    /// From now on, device streams subscribed with a binding get their current bundle, made by `source`, after
    /// each `bundle` hint.
    package nonisolated func pushBundles(from source: @escaping BundleSource) {
        bundleSource.withLock { $0 = source }
    }

    /// Whether device streams get their bundles pushed (``pushBundles(from:)``).
    package nonisolated var pushesBundles: Bool {
        bundleSource.withLock { $0 != nil }
    }

    /// The number of streams open on this replica.
    package var connectedCount: Int { subscribers.count }

    /// Subscribes a device; the returned position is where a replay from the database must stop.
    ///
    /// - Parameters:
    ///   - isStream: Whether this is the device's server-sent event stream: a newer one closes the older ones
    ///     of the device on this replica (one event stream per device).
    ///   - client: The client's address, reported when the subscription replaces another.
    ///   - bundles: For a stream that gets its bundle pushed after each `bundle` hint, the device's tenant and MSP.
    package func subscribe(
        device: DeviceID, tenant: TenantID, isStream: Bool = false, client: String? = nil,
        bundles: TenantBinding? = nil
    ) async throws -> Subscription {
        try await subscribe(.device(device), tenant: tenant, isStream: isStream, client: client, bundles: bundles)
    }

    /// Subscribes a device or connector (see ``subscribe(device:tenant:isStream:client:)``).
    package func subscribe(
        _ member: Member, tenant: TenantID, isStream: Bool = false, client: String? = nil, bundles: TenantBinding? = nil
    ) async throws -> Subscription {
        while cursor == nil {
            try await readFeed()
            if cursor == nil { try await Task.sleep(for: .milliseconds(20)) }
        }
        if positions[tenant] == nil {
            // Read after the hub's first read: what the tenant commits from here on, the hub reads.
            let head = try await database.readWithoutTenant(logger: logger) { tx in try await tx.changeFeed.head(of: tenant) }
            // A read of the hub may have handed out the tenant's later entries meanwhile.
            positions[tenant] = max(positions[tenant] ?? 0, head)
        }
        nextID += 1
        let id = nextID
        let (stream, continuation) = AsyncStream.makeStream(
            of: HubMessage.self, bufferingPolicy: .bufferingNewest(Self.streamBuffer)
        )
        var replaced: [String?] = []
        if isStream {
            for other in byMember[member] ?? [] where subscribers[other]?.isStream == true {
                replaced.append(subscribers[other]?.client)
                unsubscribe(other)
            }
        }
        if draining {
            continuation.finish()
        } else {
            subscribers[id] = Subscriber(
                member: member, tenant: tenant, isStream: isStream, client: client, bundles: bundles,
                continuation: continuation
            )
            openStreams.increment()
            byMember[member, default: []].insert(id)
            if case .device = member { byTenant[tenant, default: []].insert(id) }
        }
        return Subscription(
            id: id, member: member, tenant: tenant, position: positions[tenant] ?? 0, messages: stream,
            replaced: replaced
        )
    }

    package func unsubscribe(_ id: UInt64) {
        guard let subscriber = subscribers.removeValue(forKey: id) else { return }
        openStreams.decrement()
        subscriber.continuation.finish()
        byMember[subscriber.member]?.remove(id)
        if byMember[subscriber.member]?.isEmpty == true { byMember[subscriber.member] = nil }
        byTenant[subscriber.tenant]?.remove(id)
        if byTenant[subscriber.tenant]?.isEmpty == true { byTenant[subscriber.tenant] = nil }
    }

    /// Closes every stream, spread evenly over `window`, each told to reconnect after a jittered delay; new
    /// subscriptions are closed at once from now on.
    package func drain(over window: Duration) async {
        draining = true
        let ids = subscribers.keys.shuffled()
        guard !ids.isEmpty else { return }
        let step = window / ids.count
        for (index, id) in ids.enumerated() {
            if index > 0 { try? await Task.sleep(for: step) }
            guard let subscriber = subscribers[id] else { continue }
            subscriber.continuation.yield(.close(retryMilliseconds: Int.random(in: 1000...5000)))
            unsubscribe(id)
        }
    }

    package func run() async throws {
        await cancelWhenGracefulShutdown {
            await withTaskGroup(of: Void.self) { group in
                group.addTask { await self.listen() }
                group.addTask { await self.poll() }
                group.addTask { await self.beat() }
                group.addTask { await self.pushLoop() }
                group.addTask {
                    // Every hub prunes soon after it starts (once the database client runs), then hourly.
                    guard (try? await Task.sleep(for: self.pollInterval)) != nil else { return }
                    await Periodic.run(every: Self.pruneInterval, startingNow: true) { await self.prune() }
                }
                await group.waitForAll()
            }
        }
        for id in subscribers.keys { unsubscribe(id) }
    }

    private func listen() async {
        var backoff = Duration.milliseconds(250)
        // The database client is a sibling service starting at the same moment; give it that moment.
        try? await Task.sleep(for: .milliseconds(100))
        while !Task.isCancelled {
            do {
                try await database.listenToChangeFeed { listener, notifications in
                    // These reads run on the listening connection and end before it goes back to the pool.
                    await self.readFeedLogged(on: listener)
                    backoff = .milliseconds(250)
                    for try await notification in notifications {
                        // A read since the notification was sent may have delivered its entry already.
                        guard !self.hasDelivered(notification) else { continue }
                        await self.readFeedLogged(on: listener)
                    }
                }
            } catch is CancellationError {
                return
            } catch {
                guard !Task.isCancelled else { return }
                logger.warning(
                    "change feed listener lost its connection; reconnecting",
                    metadata: ["error": "\(String(reflecting: error))"]
                )
            }
            try? await Task.sleep(for: backoff)
            backoff = min(backoff * 2, .seconds(10))
        }
    }

    /// Reads the feed and claims signing-key takeovers every poll interval, in case a notification was lost.
    private func poll() async {
        await Periodic.run(every: pollInterval, startingNow: false) {
            await readFeedLogged()
            await hintSigningKeyTakeovers()
        }
    }

    /// Removes feed entries older than ``retentionSeconds`` (every replica does; deleting twice is harmless).
    private func prune() async {
        do {
            let removed = try await database.withoutTenant(logger: logger) { tx in
                try await tx.changeFeed.prune(olderThanSeconds: Self.retentionSeconds)
            }
            if removed > 0 { logger.info("pruned the change feed", metadata: ["entries": "\(removed)"]) }
        } catch {
            logger.warning("could not prune the change feed", metadata: ["error": "\(String(reflecting: error))"])
        }
    }

    /// Appends a `signing_keys` hint for every tenant whose announced signing key took over since the last
    /// check, so devices trust the new key from then on (a rotation's own hint came when it was announced).
    /// Each takeover is claimed once across replicas.
    private func hintSigningKeyTakeovers() async {
        do {
            let due = try await database.readWithoutTenant(logger: logger) { tx in try await tx.signingKeys.takeoversDue() }
            for (tenant, msp) in due {
                try await database.withTenant(tenant, msp: msp, logger: logger) { tx in
                    guard try await tx.signingKeys.claimTakeovers(tenant, at: Date()) else { return }
                    try await tx.changeFeed.append(tenant, event: .bundle, devices: nil, data: #"{"reason":"signing_keys"}"#)
                }
            }
        } catch is CancellationError {
            return
        } catch {
            logger.warning("could not hint signing-key takeovers", metadata: ["error": "\(String(reflecting: error))"])
        }
    }

    private func beat() async {
        await Periodic.run(every: Self.heartbeatInterval, startingNow: false) {
            for subscriber in subscribers.values { subscriber.continuation.yield(.heartbeat) }
        }
    }

    private func readFeedLogged(on listener: ChangeFeedListener? = nil) async {
        do {
            try await readFeed(on: listener)
        } catch is CancellationError {
            return
        } catch {
            logger.warning("could not read the change feed", metadata: ["error": "\(String(reflecting: error))"])
        }
    }

    /// Reads the entries after ``cursor`` and delivers those after each tenant's position, on the listener's
    /// connection or on a pooled one.
    ///
    /// The listener's reads and the poll's may overlap: an entry is delivered only when it lies after its
    /// tenant's position, which only grows, so none is delivered twice or out of order (a tenant's entries
    /// become visible in sequence order). Either read's cursor is a sound place to go on from.
    private func readFeed(on listener: ChangeFeedListener? = nil) async throws {
        let start = cursor
        let (entries, next) = try await read(on: listener) { tx in try await tx.changeFeed.entries(after: start ?? .start) }
        if start != nil {
            for entry in entries where entry.sequence > positions[entry.tenant] ?? 0 {
                deliver(entry)
                positions[entry.tenant] = entry.sequence
            }
        }
        if next.head >= cursor?.head ?? .min { cursor = next }
    }

    private func read<Result: Sendable>(
        on listener: ChangeFeedListener?, _ body: (Transaction) async throws -> Result
    ) async throws -> Result {
        guard let listener else { return try await database.readWithoutTenant(logger: logger, body) }
        return try await listener.read(logger: logger, body)
    }

    /// Whether the entry a notification names was delivered already (`nil`, a batch: not known).
    private func hasDelivered(_ notification: ChangeFeedNotification?) -> Bool {
        guard let notification, let position = positions[notification.tenant] else { return false }
        return notification.sequence <= position
    }

    private func deliver(_ entry: ChangeFeedEntry) {
        switch entry.event {
        case .disconnect:
            // The ids are devices' or connectors'; a UUID names one of them only.
            for device in entry.devices ?? [] {
                disconnect(device: device)
                disconnect(connector: ConnectorID(device.rawValue))
            }
            return
        case .connector:
            // Only for the connectors named; an entry naming none reaches none.
            guard let command = Self.connectorCommand(entry.data) else {
                logger.warning("connector command without event and data", metadata: ["feed.seq": "\(entry.sequence)"])
                return
            }
            let message = HubMessage.event(id: entry.sequence, name: command.name, data: command.data)
            deliveries.handedOut(entry.sequence)
            for device in entry.devices ?? [] {
                for id in byMember[.connector(ConnectorID(device.rawValue))] ?? [] {
                    subscribers[id]?.continuation.yield(message)
                }
            }
            return
        case .bundle, .decision:
            break
        }
        let message = HubMessage.event(id: entry.sequence, name: entry.event.rawValue, data: entry.data)
        deliveries.handedOut(entry.sequence)
        let pushes = entry.event == .bundle && pushesBundles
        func hint(_ id: UInt64) {
            guard let subscriber = subscribers[id] else { return }
            let result = subscriber.continuation.yield(message)
            // Only a stream that has read all it was sent gets a push: one that does not read holds at most the
            // bundle of one hint, not one bundle per hint (a device can cause hints to itself, by check-ins). The
            // hint was handed to a waiting reader (`remaining` is the whole buffer) or is alone in the buffer.
            guard pushes, let binding = subscriber.bundles, case .device(let device) = subscriber.member,
                case .enqueued(let remaining) = result, remaining >= Self.streamBuffer - 1
            else { return }
            queuePush(device, in: binding)
        }
        if let devices = entry.devices {
            for device in devices {
                for id in byMember[.device(device)] ?? [] { hint(id) }
            }
        } else {
            for id in byTenant[entry.tenant] ?? [] { hint(id) }
        }
        if pushes { pushWakeup.yield() }
    }

    // MARK: - Pushed bundles

    /// Queues a push of the device's bundle when the replay its stream opened with holds a `bundle` hint: hints
    /// read from the table on a reconnect are followed by the bundle as the hints the hub hands out are.
    package func pushAfterReplay(_ replay: [HubMessage], to device: DeviceID, in binding: TenantBinding) {
        guard pushesBundles, replay.contains(where: { if case .event(_, "bundle", _) = $0 { true } else { false } })
        else { return }
        queuePush(device, in: binding)
        pushWakeup.yield()
    }

    private func queuePush(_ device: DeviceID, in binding: TenantBinding) {
        if pendingPushes[binding.tenant] == nil { pushOrder.append(binding.tenant) }
        pendingPushes[binding.tenant, default: PendingPushes(binding: binding)].queue(device)
    }

    /// Makes the waiting devices' bundles and pushes them, ``concurrentPushes`` batches at a time, until the hub
    /// stops.
    private func pushLoop() async {
        await withDiscardingTaskGroup { group in
            for await _ in pushWakeups {
                while pushesRunning < Self.concurrentPushes, let batch = takePushBatch() {
                    pushesRunning += 1
                    group.addTask { await self.push(batch.devices, in: batch.binding) }
                }
            }
        }
    }

    /// Makes the bundles of `devices` and hands each to its device's stream.
    private func push(_ devices: [DeviceID], in binding: TenantBinding) async {
        if !Task.isCancelled, let source = bundleSource.withLock({ $0 }) {
            let started = ContinuousClock.now
            do {
                let bundles = try await source(devices, binding, logger)
                var pushed = 0
                for (device, bundle) in bundles {
                    let message = HubMessage.bundle(data: Self.pushData(bundle))
                    for id in byMember[.device(device)] ?? [] where subscribers[id]?.bundles != nil {
                        subscribers[id]?.continuation.yield(message)
                        pushed += 1
                    }
                }
                bundlesPushed.increment(by: pushed)
                pushBatches.record(ContinuousClock.now - started)
            } catch is CancellationError {
            } catch {
                // The agents fetch instead once their wait for the push runs out.
                logger.warning(
                    "could not make the bundles to push",
                    metadata: [
                        "tenant.id": "\(binding.tenant)", "devices": "\(devices.count)",
                        "error": "\(String(reflecting: error))",
                    ]
                )
            }
        }
        pushesRunning -= 1
        pushWakeup.yield()
    }

    /// Up to ``pushBatchSize`` waiting devices of the tenant first in line, which then goes to the back of the
    /// line if more of its devices wait (a tenant's thousands do not hold up another's few); `nil` when none waits.
    private func takePushBatch() -> (binding: TenantBinding, devices: [DeviceID])? {
        guard !pushOrder.isEmpty else { return nil }
        let tenant = pushOrder.removeFirst()
        guard var pending = pendingPushes.removeValue(forKey: tenant) else { return nil }
        let batch = Array(pending.devices.prefix(Self.pushBatchSize))
        pending.devices.removeFirst(batch.count)
        if !pending.devices.isEmpty {
            for device in batch { pending.queued.remove(device) }
            pendingPushes[tenant] = pending
            pushOrder.append(tenant)
        }
        return (pending.binding, batch)
    }

    /// The `current_bundle` event's data: the feed position the bundle answers, its version and ETag, the
    /// compact JWE.
    package nonisolated static func pushData(_ bundle: StoredBundle) -> String {
        let data = JSONValue.object([
            "position": .integer(bundle.feedSequence), "version": .integer(bundle.version),
            "etag": .string(bundle.etag), "bundle": .string(bundle.compact),
        ])
        return String(decoding: data.canonicalData, as: UTF8.self)
    }
}

extension EventHub {
    /// Runs `body` with a subscription of the device, which ends when `body` returns or throws.
    package nonisolated func withSubscription<Result: Sendable>(
        device: DeviceID, tenant: TenantID, _ body: (Subscription) async throws -> Result
    ) async throws -> Result {
        try await withSubscription(.device(device), tenant: tenant, body)
    }

    /// Runs `body` with a subscription of the device or connector, which ends when `body` returns or throws.
    package nonisolated func withSubscription<Result: Sendable>(
        _ member: Member, tenant: TenantID, _ body: (Subscription) async throws -> Result
    ) async throws -> Result {
        let subscription = try await subscribe(member, tenant: tenant)
        do {
            let result = try await body(subscription)
            await unsubscribe(subscription.id)
            return result
        } catch {
            await unsubscribe(subscription.id)
            throw error
        }
    }

    /// Closes the streams and long polls of a revoked device on this replica (every replica does so when it
    /// reads the revocation's `disconnect` feed entry).
    package func disconnect(device: DeviceID) {
        for id in byMember[.device(device)] ?? [] { unsubscribe(id) }
    }

    /// Closes the streams and long polls of a revoked connector on this replica (every replica does so when it
    /// reads the revocation's `disconnect` feed entry).
    package func disconnect(connector: ConnectorID) {
        for id in byMember[.connector(connector)] ?? [] { unsubscribe(id) }
    }

    /// The server-sent event a `connector` feed entry's data names: `{"event": <name>, "data": <object>}`.
    package nonisolated static func connectorCommand(_ data: String) -> (name: String, data: String)? {
        struct Command: Decodable {
            var event: String
            var data: JSONValue
        }
        guard let command = try? JSONDecoder().decode(Command.self, from: Data(data.utf8)),
            !command.event.isEmpty, command.event.allSatisfy({ $0.isLetter || $0 == "_" }),
            case .object = command.data,
            let encoded = try? JSONEncoder().encode(command.data)
        else { return nil }
        return (command.event, String(decoding: encoded, as: UTF8.self))
    }
}

extension EventHub.Subscription {
    /// The first hint `matching` that arrives within `timeout`; `nil` when none does or the stream closes.
    package func firstEvent(
        within timeout: Duration, matching: @escaping @Sendable (Int64, String, String) -> Bool
    ) async -> HubMessage? {
        let messages = messages
        return await withTaskGroup(of: HubMessage?.self) { group in
            group.addTask {
                for await message in messages {
                    if case .event(let id, let name, let data) = message, matching(id, name, data) { return message }
                    if case .close = message { return nil }
                }
                return nil
            }
            group.addTask {
                try? await Task.sleep(for: timeout)
                return nil
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            return first
        }
    }
}

/// `charter_hint_delivery_seconds`: from the hub handing a feed entry to the streams to one stream's write of it
/// returning (the bytes are with the connection), per stream. The hub keeps the hand-out times of the last
/// ``capacity`` entries; a write of an older one is not measured.
package final class HintDeliveries: Sendable {
    package static let capacity = 256
    private let handedOutAt = Mutex<[Int64: ContinuousClock.Instant]>([:])
    private let timer = Timer(label: "charter_hint_delivery_seconds", preferredDisplayUnit: .seconds)

    package func handedOut(_ sequence: Int64) {
        let now = ContinuousClock.now
        handedOutAt.withLock { times in
            times[sequence] = now
            if times.count > Self.capacity, let oldest = times.keys.min() { times[oldest] = nil }
        }
    }

    package func written(_ sequence: Int64) {
        guard let handedOut = handedOutAt.withLock({ $0[sequence] }) else { return }
        timer.record(ContinuousClock.now - handedOut)
    }
}
