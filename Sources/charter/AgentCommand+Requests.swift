import CharterAgent
import CharterBundle

extension AgentCommand.Simulate {
    /// What the request and approval rounds measured.
    struct MeasuredRequests: Sendable {
        /// The rounds of requests decided at arrival.
        var decidedAtArrival: [AgentSimulator.RequestRound] = []
        /// The submissions of the approval rounds (answered `pending`).
        var pending: [AgentSimulator.RequestRound] = []
        /// The approvals and the decision events they caused.
        var decisions: [AgentSimulator.DecisionRound] = []

        /// The report's JSON members (none without rounds); durations in milliseconds.
        var jsonMembers: [String: JSONValue] {
            var members: [String: JSONValue] = [:]
            if !decidedAtArrival.isEmpty {
                members["request_rounds"] = .integer(Int64(decidedAtArrival.count))
                members["request_ms"] = LatencySummary(decidedAtArrival.flatMap(\.latencies)).jsonValue
                members["request_statuses"] = .object(Self.statuses(decidedAtArrival).mapValues { .integer(Int64($0)) })
                members["requests_per_second"] = .number(Self.rate(decidedAtArrival))
            }
            if !decisions.isEmpty {
                members["approval_rounds"] = .integer(Int64(decisions.count))
                members["pending_request_ms"] = LatencySummary(pending.flatMap(\.latencies)).jsonValue
                members["approve_ms"] = LatencySummary(decisions.flatMap(\.decideDurations)).jsonValue
                members["decision_event_ms"] = LatencySummary(decisions.flatMap(\.latencies)).jsonValue
                members["decision_event_from_approve_start_ms"] =
                    LatencySummary(decisions.flatMap(\.latenciesFromStart)).jsonValue
                members["decision_events_before_approve_answer"] =
                    .integer(Int64(decisions.map(\.eventsBeforeAnswer).reduce(0, +)))
                members["long_poll_ms"] = LatencySummary(decisions.flatMap(\.longPollLatencies)).jsonValue
                members["long_polls_before_approve_answer"] =
                    .integer(Int64(decisions.map(\.longPollsBeforeAnswer).reduce(0, +)))
            }
            return members
        }

        /// The report's lines of text (none without rounds).
        var lines: [String] {
            var lines: [String] = []
            if !decidedAtArrival.isEmpty {
                let statuses = Self.statuses(decidedAtArrival).sorted { $0.key < $1.key }
                    .map { "\($0.key): \($0.value)" }
                lines.append(
                    "requests      \(LatencySummary(decidedAtArrival.flatMap(\.latencies)).text) over "
                        + "\(decidedAtArrival.count) round(s), submit to answer (\(statuses.joined(separator: ", "))), "
                        + "\(Int(Self.rate(decidedAtArrival).rounded())) requests/s"
                )
            }
            if !decisions.isEmpty {
                let early = decisions.map(\.eventsBeforeAnswer).reduce(0, +)
                let earlyPolls = decisions.map(\.longPollsBeforeAnswer).reduce(0, +)
                lines += [
                    "pending       \(LatencySummary(pending.flatMap(\.latencies)).text) over "
                        + "\(decisions.count) round(s), submit to the pending answer",
                    "approve       \(LatencySummary(decisions.flatMap(\.decideDurations)).text), the approve call",
                    "decision      \(LatencySummary(decisions.flatMap(\.latencies)).text), from the approve's answer "
                        + "to the decision event; \(early) arrived before the answer (counted as 0)",
                    "from approve  \(LatencySummary(decisions.flatMap(\.latenciesFromStart)).text), from the start "
                        + "of the approve call",
                ]
                let polls = decisions.flatMap(\.longPollLatencies)
                if !polls.isEmpty {
                    lines.append(
                        "long poll     \(LatencySummary(polls).text), from the approve's answer to the long poll's "
                            + "answer; \(earlyPolls) answered before it (counted as 0)"
                    )
                }
            }
            return lines
        }

        private static func statuses(_ rounds: [AgentSimulator.RequestRound]) -> [String: Int] {
            var counts: [String: Int] = [:]
            for answer in rounds.flatMap(\.answers.values) { counts[answer.status.rawValue, default: 0] += 1 }
            return counts
        }

        /// Requests answered per second, over the rounds' durations.
        private static func rate(_ rounds: [AgentSimulator.RequestRound]) -> Double {
            let seconds = rounds.map { LatencySummary.milliseconds($0.duration) / 1_000 }.reduce(0, +)
            return seconds > 0 ? Double(rounds.map(\.answers.count).reduce(0, +)) / seconds : 0
        }
    }

    /// Runs the request rounds, then the approval rounds, each once the bundle fetches in flight are over.
    func measureRequests(_ simulator: AgentSimulator, approver: RequestApprover?) async throws -> MeasuredRequests {
        var measured = MeasuredRequests()
        let settleTimeout = Duration.seconds(settleTimeout)
        for _ in 0..<requestRounds {
            try await simulator.waitUntilSettled(quiet: Self.settledQuiet, timeout: settleTimeout)
            let round = try await simulator.submitRequests { Self.request(.runAsAdmin, device: $0) }
            let pending = round.answers.values.filter { $0.status == .pending }.count
            guard pending == 0 else {
                throw CLIFailure(
                    "\(pending) of \(round.answers.count) run_as_admin requests are pending; for --request-rounds set "
                        + "run_as_admin.mode to audit_only or reason_required in the tenant's settings"
                )
            }
            measured.decidedAtArrival.append(round)
        }
        guard let approver else { return measured }
        for _ in 0..<approvalRounds {
            try await simulator.waitUntilSettled(quiet: Self.settledQuiet, timeout: settleTimeout)
            let round = try await simulator.submitRequests { Self.request(.adminSession, device: $0) }
            let pending = round.answers.compactMapValues { $0.status == .pending ? $0.id : nil }
            guard pending.count == round.answers.count else {
                throw CLIFailure(
                    "\(round.answers.count - pending.count) of \(round.answers.count) admin_session requests were "
                        + "decided at arrival; for --approval-rounds set admin_session.mode to approval_required in "
                        + "the tenant's settings"
                )
            }
            measured.pending.append(round)
            do {
                let decisions = try await simulator.measureDecisions(
                    of: pending, longPolls: longPolls, timeout: Self.propagationTimeout
                ) { id in
                    do {
                        try await approver.approve(id)
                    } catch let error as AgentError {
                        let hint = error.statusCode == 403 ? "; the API key needs the approver role or above" : ""
                        throw CLIFailure("approving request \(id) failed: \(error)\(hint)")
                    }
                }
                measured.decisions.append(decisions)
            } catch AgentSimulator.Failure.timedOut(let missing) {
                throw CLIFailure(
                    "\(missing) decision event(s) did not arrive within \(Self.propagationTimeout) of the last "
                        + "approval; check the service's logs"
                )
            } catch let error as AgentError {
                throw CLIFailure("a long poll of GET /v1/agent/requests/{id} failed: \(error)")
            }
        }
        return measured
    }

    /// The request a device submits: its user by UPN, a reason, and for `run_as_admin` an installer.
    static func request(_ kind: ElevationRequest.Kind, device index: Int) -> ElevationRequest {
        let user = "user\(index + 1)"
        return ElevationRequest(
            kind: kind,
            user: CheckinUser(upn: "\(user)@simulator.test"),
            application: kind == .runAsAdmin
                ? ElevationRequest.Application(
                    fileName: "setup.exe", path: #"C:\Users\\#(user)\Downloads\setup.exe"#,
                    sha256: String(repeating: "5e", count: 32), vendor: "Simulator"
                ) : nil,
            reason: "charter agent simulate"
        )
    }
}
