import ArgumentParser
import AsyncHTTPClient
import CharterAgent
import CharterBundle
import Foundation
import Logging

/// `charter agent simulate`: many reference agents against a running service (docs/agent-protocol.md).
struct AgentCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "agent",
        abstract: "Play endpoint agents against a running service.",
        subcommands: [Simulate.self]
    )

    struct Simulate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Enroll simulated devices, hold their event streams, fetch and verify bundles, submit requests.",
            discussion: """
                Enrolls --count devices (--concurrency at a time) with one enrollment token (it must allow that \
                many uses), or with the tokens of --tokens-file in turn (one per tenant spreads the devices over \
                the tenants), waits until every device's event stream is live, keeps the streams open for \
                --duration seconds, and prints latencies and counts. With --propagation-rounds, it first changes \
                the tenant's global settings that many times, or with --baseline that baseline of --msp \
                (toggling endpoint.fallback_poll_interval_seconds, restored at the end), and measures, for every \
                device, the time from the write's answer to the \
                arrival of its bundle hint, and the time until the bundle fetches the hints caused are over. \
                Each round starts once the fetches of the connect (or of the round before) are over. \
                With --request-rounds, every device then submits a run_as_admin request per round and the \
                simulator times each answer (the policy must decide at arrival: audit_only or reason_required). \
                With --approval-rounds, every device submits an admin_session request per round (the policy must \
                say approval_required), the simulator approves them through the admin API and times, per request, \
                the arrival of the decision event on the device's stream after the approval's answer; \
                --long-polls devices also long-poll their request. \
                See docs/agent-protocol.md, "Reference agent".
                """
        )

        @Option(help: "The service's base URL, such as http://127.0.0.1:8080.")
        var server: String

        @Option(name: .customLong("enroll-token"), help: "An enrollment token (chte_…) with enough uses for --count.")
        var enrollToken: String?

        @Option(help: "A file of enrollment tokens, one per line, used in turn (instead of --enroll-token).")
        var tokensFile: String?

        @Option(help: "How many devices to simulate.")
        var count = 10

        @Option(help: "How many enrollments run at once, how many bundle fetches, request submissions and approvals.")
        var concurrency = 16

        @Option(help: "Seconds to keep the streams open once every device is connected (after any rounds).")
        var duration: Double = 10

        @Option(help: "Device host names are <prefix>-<n>.")
        var hostnamePrefix = "sim"

        @Option(help: "Seconds to wait for every device's stream to be live.")
        var connectTimeout: Double = 120

        @Option(help: "How many settings writes to measure hint propagation with (needs --api-key and --tenant).")
        var propagationRounds = 0

        @Option(help: "How many rounds of one request per device that the policy decides at arrival.")
        var requestRounds = 0

        @Option(help: "How many rounds of one request per device that is approved (needs --api-key and --tenant).")
        var approvalRounds = 0

        @Option(help: "How many devices also long-poll their request in each approval round.")
        var longPolls = 0

        @Option(help: "An API key (chtr_…) over --tenant: admin for propagation, approver or above for approvals.")
        var apiKey: String?

        @Option(help: "The tenant the enrollment token belongs to, for the propagation writes and approvals.")
        var tenant: String?

        @Option(help: "A baseline of --msp that the propagation rounds edit instead of --tenant's settings.")
        var baseline: String?

        @Option(help: "The MSP of --baseline (--api-key then an MSP-wide admin key).")
        var msp: String?

        @Option(help: "Seconds to wait, before each round, for the bundle fetches in flight to end.")
        var settleTimeout: Double = 600

        @Flag(help: ArgumentHelp(
            "Fetch bundles without verifying them.",
            discussion: """
                For load tests with many devices in one process: the service sees the same requests, and the \
                simulator does not spend the CPU that real agents spend on their own machines.
                """
        ))
        var skipVerification = false

        @Flag(help: "Print one JSON object instead of text.")
        var json = false

        /// How long one round waits for every device's hint.
        static let propagationTimeout = Duration.seconds(30)
        /// How long without a fetch or hint counts as settled (so one round's fetches do not overlap the next write).
        static let settledQuiet = Duration.seconds(1)

        func validate() throws {
            guard server.hasPrefix("http://") || server.hasPrefix("https://"), URL(string: server)?.host != nil else {
                throw ValidationError("--server must be an http:// or https:// URL, such as http://127.0.0.1:8080")
            }
            guard count >= 1 else { throw ValidationError("--count must be at least 1") }
            guard (enrollToken == nil) != (tokensFile == nil) else {
                throw ValidationError("give --enroll-token or --tokens-file")
            }
            guard concurrency >= 1 else { throw ValidationError("--concurrency must be at least 1") }
            guard duration >= 0, connectTimeout > 0, settleTimeout > 0 else {
                throw ValidationError("--duration must be 0 or more and --connect-timeout more than 0 seconds")
            }
            guard propagationRounds >= 0, requestRounds >= 0, approvalRounds >= 0, longPolls >= 0 else {
                throw ValidationError(
                    "--propagation-rounds, --request-rounds, --approval-rounds and --long-polls must be 0 or more"
                )
            }
            guard longPolls <= count else { throw ValidationError("--long-polls must be at most --count") }
            let needsKey = [
                (propagationRounds, "--propagation-rounds", "an admin key of the tenant"),
                (approvalRounds, "--approval-rounds", "a key of the tenant with the approver role or above"),
            ]
            for (rounds, flag, key) in needsKey where rounds > 0 {
                guard apiKey != nil else {
                    throw ValidationError("\(flag) needs --api-key: \(key)")
                }
                if flag == "--propagation-rounds", let baseline {
                    guard UUID(uuidString: baseline) != nil, let msp, UUID(uuidString: msp) != nil else {
                        throw ValidationError("--baseline needs --msp: both ids (UUIDs)")
                    }
                    continue
                }
                guard let tenant, UUID(uuidString: tenant) != nil else {
                    throw ValidationError("\(flag) needs --tenant: the tenant's id (a UUID)")
                }
            }
        }

        func run() async throws {
            let logger = try await LogSetup.bootstrapCommand()
            // Long polls are held during approvals, beside --concurrency approve calls.
            let configuration = AgentSimulator.httpClientConfiguration(
                deviceCount: count, concurrency: concurrency + longPolls
            )
            let outcome = try await HTTPClient.withHTTPClient(configuration: configuration, backgroundActivityLogger: logger) {
                httpClient in
                let simulator = AgentSimulator(
                    client: AgentClient(httpClient: httpClient, baseURL: server, logger: logger),
                    configuration: .init(
                        enrollmentTokens: try enrollmentTokens(),
                        deviceCount: count,
                        concurrency: concurrency,
                        hostnamePrefix: hostnamePrefix,
                        verifiesBundles: !skipVerification
                    ),
                    logger: logger
                )
                let tenantURL = server.trimmingSuffix("/") + "/v1/tenants/\(tenant ?? "")"
                let settings = propagationRounds > 0 ? propagationWrite(httpClient: httpClient, tenantURL: tenantURL) : nil
                let approver = approvalRounds > 0 ? RequestApprover(
                    httpClient: httpClient, requestsURL: tenantURL + "/requests", apiKey: apiKey ?? ""
                ) : nil
                let measured = try await drive(simulator, settings: settings, approver: approver)
                return (simulator.report(), measured)
            }
            try printOutcome(report: outcome.0, rounds: outcome.1.rounds, requests: outcome.1.requests)
        }

        /// The enrollment tokens: --enroll-token, or the lines of --tokens-file.
        private func enrollmentTokens() throws -> [String] {
            guard let tokensFile else { return [enrollToken ?? ""] }
            let tokens = try String(contentsOfFile: tokensFile, encoding: .utf8).split(whereSeparator: \.isNewline)
                .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            guard !tokens.isEmpty else { throw CLIFailure("--tokens-file \(tokensFile) holds no token") }
            return tokens
        }

        /// What the propagation rounds toggle: --baseline's settings fragment, or --tenant's settings.
        private func propagationWrite(httpClient: HTTPClient, tenantURL: String) -> SettingsToggle {
            guard let baseline, let msp else {
                return SettingsToggle(httpClient: httpClient, url: tenantURL + "/settings", apiKey: apiKey ?? "")
            }
            return SettingsToggle(
                httpClient: httpClient, url: server.trimmingSuffix("/") + "/v1/msps/\(msp)/baselines/\(baseline)",
                apiKey: apiKey ?? "", section: ["settings", "endpoint"]
            )
        }

        /// Runs the simulator while waiting for the streams, measuring rounds and requests and holding for --duration.
        private func drive(
            _ simulator: AgentSimulator, settings: SettingsToggle?, approver: RequestApprover?
        ) async throws -> (rounds: [MeasuredRound], requests: MeasuredRequests) {
            let rounds = propagationRounds
            let connectTimeout = Duration.seconds(connectTimeout)
            let settleTimeout = Duration.seconds(settleTimeout)
            let duration = Duration.seconds(duration)
            do {
                return try await withThrowingTaskGroup(of: ([MeasuredRound], MeasuredRequests)?.self) { group in
                    group.addTask {
                        // Returns only when cancelled; throws when an enrollment is refused.
                        try await simulator.run()
                        return nil
                    }
                    group.addTask {
                        try await simulator.waitUntilConnected(timeout: connectTimeout)
                        var measured: [MeasuredRound] = []
                        if let settings {
                            for _ in 0..<rounds {
                                try await simulator.waitUntilSettled(quiet: Self.settledQuiet, timeout: settleTimeout)
                                var answered = ContinuousClock.now
                                let round = try await simulator.measurePropagation(timeout: Self.propagationTimeout) {
                                    try await settings.toggle()
                                    answered = .now
                                }
                                let settled = try await simulator.waitUntilSettled(
                                    quiet: Self.settledQuiet, timeout: settleTimeout
                                )
                                measured.append(MeasuredRound(round: round, settled: max(.zero, settled - answered)))
                            }
                            try await settings.restore()
                        }
                        let requests = try await measureRequests(simulator, approver: approver)
                        try await Task.sleep(for: duration)
                        return (measured, requests)
                    }
                    defer { group.cancelAll() }
                    return (try await group.next() ?? nil) ?? ([], MeasuredRequests())
                }
            } catch let failure as AgentSimulator.Failure {
                throw CLIFailure(Self.explain(failure))
            } catch let error as AgentError {
                throw CLIFailure("settings write failed: \(error) (the API key needs the admin role over --tenant)")
            }
        }

        private static func explain(_ failure: AgentSimulator.Failure) -> String {
            switch failure {
            case .enrollmentRefused(_, let error) where error.statusCode == 401:
                "\(failure); create a token with at least --count uses (POST /v1/tenants/{tenant}/enrollment-tokens)"
            case .timedOut:
                "\(failure); check the service's logs, or raise --connect-timeout"
            case .enrollmentRefused, .enrollmentPending, .requestRefused, .stopped:
                failure.description
            }
        }

        /// One round and how long after the write's answer its last bundle fetch ended.
        struct MeasuredRound: Sendable {
            var round: AgentSimulator.PropagationRound
            var settled: Duration
        }

        private func printOutcome(
            report: SimulatorReport, rounds measured: [MeasuredRound], requests: MeasuredRequests
        ) throws {
            let rounds = measured.map(\.round)
            let latencies = LatencySummary(rounds.flatMap(\.latencies))
            let fromStart = LatencySummary(rounds.flatMap(\.latenciesFromStart))
            let writes = LatencySummary(rounds.map(\.writeDuration))
            let settled = LatencySummary(measured.map(\.settled))
            let early = rounds.map(\.hintsBeforeAnswer).reduce(0, +)
            if json {
                guard case .object(var members) = report.jsonValue else { return }
                if !rounds.isEmpty {
                    members["propagation_rounds"] = .integer(Int64(rounds.count))
                    members["propagation_ms"] = latencies.jsonValue
                    members["propagation_from_write_start_ms"] = fromStart.jsonValue
                    members["settings_write_ms"] = writes.jsonValue
                    members["hints_before_write_answer"] = .integer(Int64(early))
                    members["fetches_settled_ms"] = settled.jsonValue
                }
                members.merge(requests.jsonMembers) { $1 }
                print(String(decoding: JSONValue.object(members).canonicalData, as: UTF8.self))
            } else {
                print("Simulated \(count) agents against \(server)")
                for line in report.lines {
                    print("  " + line)
                }
                if !rounds.isEmpty {
                    print("  propagation   \(latencies.text) over \(rounds.count) round(s), from the write's answer")
                    print("  from start    \(fromStart.text), from the start of the write's request")
                    print("  writes        \(writes.text); \(early) hint(s) arrived before the write answered (counted as 0)")
                    print("  settled       \(settled.text): from the write's answer to the end of the last fetch it caused")
                    for (number, round) in rounds.enumerated() {
                        let write = Int(LatencySummary.milliseconds(round.writeDuration).rounded())
                        let hints = LatencySummary(round.latenciesFromStart).text
                        print("  round \(number + 1)       write \(write)ms; hints from the write's start \(hints)")
                    }
                }
                for line in requests.lines {
                    print("  " + line)
                }
            }
        }
    }
}

extension String {
    fileprivate func trimmingSuffix(_ suffix: String) -> String {
        var text = self
        while text.hasSuffix(suffix) {
            text.removeLast(suffix.count)
        }
        return text
    }
}
