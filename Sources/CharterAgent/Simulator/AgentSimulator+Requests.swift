internal import Synchronization

extension AgentSimulator {
    /// One elevation request from every device and the service's answers.
    public struct RequestRound: Sendable, Hashable {
        /// Per device index, the answer to its submission.
        public var answers: [Int: ElevationRequest.Answer]
        /// Per request, from the submission's start to its answer (the decision at arrival).
        public var latencies: [Duration]
        /// From the first submission's start to the last answer.
        public var duration: Duration
    }

    /// Approvers' decisions on pending requests and how long each took to reach its device.
    public struct DecisionRound: Sendable, Hashable {
        /// Per request, how long the decide call took to answer.
        public var decideDurations: [Duration]
        /// Per request, from the decide call's answer to the `decision` event on the device's stream (zero when
        /// the event came first).
        public var latencies: [Duration]
        /// Per request, from the decide call's start to the `decision` event on the device's stream.
        public var latenciesFromStart: [Duration]
        /// How many `decision` events arrived before their decide call answered.
        public var eventsBeforeAnswer: Int
        /// Per long-polled request, from the decide call's answer to the long poll's answer (zero when the
        /// poll answered first).
        public var longPollLatencies: [Duration]
        /// How many long polls answered before their decide call did.
        public var longPollsBeforeAnswer: Int
    }

    /// Submits one request per device, at most ``Configuration/concurrency`` at a time.
    ///
    /// Call it once every device is connected (``waitUntilConnected(timeout:)``).
    ///
    /// - Parameter request: The request of the device with this index (0-based).
    /// - Returns: Every device's answer and every submission's latency.
    /// - Throws: ``Failure/requestRefused(hostname:_:)`` when the service refuses one (the others are
    ///   cancelled), a transport error, or `CancellationError`.
    public func submitRequests(_ request: @escaping @Sendable (Int) -> ElevationRequest) async throws -> RequestRound {
        let clients = deviceClients.withLock { $0 }.sorted { $0.key < $1.key }
        let started = ContinuousClock.now
        let submitted = try await Self.map(clients, atMost: configuration.concurrency) { index, client in
            let start = ContinuousClock.now
            do {
                let answer = try await client.submitRequest(request(index))
                return (index: index, answer: answer, latency: ContinuousClock.now - start)
            } catch let error as AgentError {
                throw Failure.requestRefused(hostname: self.hostname(index), error)
            }
        }
        return RequestRound(
            answers: Dictionary(uniqueKeysWithValues: submitted.map { ($0.index, $0.answer) }),
            latencies: submitted.map(\.latency),
            duration: .now - started
        )
    }

    /// Decides pending requests (at most ``Configuration/concurrency`` decide calls at a time) and times
    /// the arrival of each `decision` event on its device's stream.
    ///
    /// With `longPolls` above zero, that many devices (the lowest indices) also long-poll their request
    /// (`GET /v1/agent/requests/{id}?wait=60`) from before the first decide call; their requests are decided
    /// last, so that the service holds the polls by then.
    ///
    /// - Parameters:
    ///   - pending: The requests to decide: device index → request id.
    ///   - longPolls: How many devices also long-poll.
    ///   - timeout: How long to wait, after the last decide call, for the events.
    ///   - decide: Approves or denies the request with this id through the admin API.
    /// - Returns: Every decide call's duration and every request's latency.
    /// - Throws: What `decide` throws, ``Failure``, an ``AgentError`` or transport error of a long poll, or
    ///   `CancellationError`.
    public func measureDecisions(
        of pending: [Int: String],
        longPolls: Int = 0,
        timeout: Duration = .seconds(30),
        decide: @escaping @Sendable (String) async throws -> Void
    ) async throws -> DecisionRound {
        let clients = deviceClients.withLock { $0 }
        let ordered = pending.sorted { $0.key < $1.key }
        let polled = Array(ordered.prefix(max(0, longPolls)))
        let order = Array(ordered.dropFirst(polled.count)) + polled
        let requests = Dictionary(uniqueKeysWithValues: pending.map { ($0.value, $0.key) })
        return try await withThrowingTaskGroup(of: (String, ContinuousClock.Instant)?.self) { group in
            for (index, id) in polled {
                guard let client = clients[index] else { continue }
                group.addTask {
                    let answer = try await client.readRequest(id: id, wait: 60)
                    // A poll that ran out while the request was still pending is no sample.
                    return answer.status == .pending ? nil : (id, ContinuousClock.now)
                }
            }
            let calls = try await Self.map(order, atMost: configuration.concurrency) { _, id in
                let started = ContinuousClock.now
                try await decide(id)
                return (id: id, started: started, answered: ContinuousClock.now)
            }
            let arrivals = try await wait(for: .decisions(requests), timeout: timeout)
            var pollAnswers: [String: ContinuousClock.Instant] = [:]
            while let answer = try await group.next() {
                if let (id, at) = answer { pollAnswers[id] = at }
            }
            var round = DecisionRound(
                decideDurations: [], latencies: [], latenciesFromStart: [], eventsBeforeAnswer: 0,
                longPollLatencies: [], longPollsBeforeAnswer: 0
            )
            for call in calls {
                round.decideDurations.append(call.answered - call.started)
                if let index = requests[call.id], let arrival = arrivals[index] {
                    round.latencies.append(max(.zero, arrival - call.answered))
                    round.latenciesFromStart.append(arrival - call.started)
                    if arrival < call.answered { round.eventsBeforeAnswer += 1 }
                }
                if let answered = pollAnswers[call.id] {
                    round.longPollLatencies.append(max(.zero, answered - call.answered))
                    if answered < call.answered { round.longPollsBeforeAnswer += 1 }
                }
            }
            return round
        }
    }
}
