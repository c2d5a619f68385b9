import Testing

@testable import CharterAgent

private func bundleHint(_ position: UInt64) -> ServerSentEvent {
    ServerSentEvent(type: "bundle", data: #"{"reason":"policy"}"#, lastEventID: String(position))
}

@Suite("Simulator recorder")
struct SimulatorRecorderTests {
    @Test("connected holds once enrollment is over and every device has had ready")
    func connected() async throws {
        let recorder = SimulatorRecorder(deviceCount: 2)
        recorder.enrolled(0, isReenrollment: false, latency: .milliseconds(5))
        recorder.enrolled(1, isReenrollment: true, latency: .milliseconds(7))
        recorder.connected(0, heartbeatSeconds: 15, latency: .milliseconds(1))
        #expect(recorder.missing(for: .connected) == 2)  // device 1, and enrollment not finished
        recorder.enrollmentFinished()
        recorder.connected(1, heartbeatSeconds: 20, latency: .milliseconds(1))
        #expect(recorder.missing(for: .connected) == 0)
        _ = try await recorder.wait(for: .connected)
        #expect(recorder.heartbeatSeconds(of: 1) == 20)
        recorder.disconnected(1)
        #expect(recorder.missing(for: .connected) == 1)
        #expect(recorder.report().reconnects == 1)
        #expect(recorder.report().reenrolled == 1)
    }

    @Test("a waiter for bundle hints resumes with each device's first hint after the position")
    func bundleHints() async throws {
        let recorder = SimulatorRecorder(deviceCount: 2)
        recorder.enrolled(0, isReenrollment: false, latency: .zero)
        recorder.enrolled(1, isReenrollment: false, latency: .zero)
        recorder.enrollmentFinished()
        let clock = ContinuousClock()
        let t0 = clock.now
        recorder.received(bundleHint(10), on: 0, at: t0)
        recorder.received(bundleHint(10), on: 1, at: t0)
        #expect(recorder.lastPosition == 10)
        try await withThrowingTaskGroup(of: [Int: ContinuousClock.Instant].self) { group in
            group.addTask { try await recorder.wait(for: .bundleHints(after: 10)) }
            recorder.received(bundleHint(11), on: 0, at: t0 + .milliseconds(1))
            recorder.received(bundleHint(12), on: 0, at: t0 + .milliseconds(2))
            recorder.received(ServerSentEvent(type: "ready", data: "{}", lastEventID: "13"), on: 1, at: t0 + .milliseconds(3))
            recorder.received(bundleHint(14), on: 1, at: t0 + .milliseconds(4))
            let arrivals = try #require(try await group.next())
            #expect(arrivals == [0: t0 + .milliseconds(1), 1: t0 + .milliseconds(4)])
        }
        #expect(recorder.report().hints == ["bundle": 5, "ready": 1])
    }

    @Test("a waiter for decisions resumes with each request's first decision event, by device index")
    func decisions() async throws {
        let recorder = SimulatorRecorder(deviceCount: 3)
        for index in 0..<3 { recorder.enrolled(index, isReenrollment: false, latency: .zero) }
        recorder.enrollmentFinished()
        let t0 = ContinuousClock().now
        recorder.decided("r0", at: t0)
        try await withThrowingTaskGroup(of: [Int: ContinuousClock.Instant].self) { group in
            group.addTask { try await recorder.wait(for: .decisions(["r0": 0, "r2": 2])) }
            recorder.decided("r1", at: t0 + .milliseconds(1))
            recorder.decided("r2", at: t0 + .milliseconds(2))
            recorder.decided("r2", at: t0 + .milliseconds(3))
            let arrivals = try #require(try await group.next())
            #expect(arrivals == [0: t0, 2: t0 + .milliseconds(2)])
        }
        #expect(recorder.missing(for: .decisions(["r3": 1])) == 1)
    }

    @Test("cancelling a waiter throws CancellationError")
    func cancellation() async {
        let recorder = SimulatorRecorder(deviceCount: 1)
        let waiter = Task { try await recorder.wait(for: .connected) }
        waiter.cancel()
        await #expect(throws: CancellationError.self) { try await waiter.value }
    }

    @Test("waiters fail once the simulator stops, and later waits fail at once")
    func stopped() async {
        let recorder = SimulatorRecorder(deviceCount: 1)
        await withTaskGroup(of: Bool.self) { group in
            group.addTask {
                do {
                    _ = try await recorder.wait(for: .bundleHints(after: 0))
                    return false
                } catch SimulatorRecorder.WaitFailure.simulatorStopped {
                    return true
                } catch {
                    return false
                }
            }
            // Give the waiter a chance to register; either order must end in simulatorStopped.
            await Task.yield()
            recorder.stopped()
            #expect(await group.next() == true)
        }
        await #expect(throws: SimulatorRecorder.WaitFailure.self) { try await recorder.wait(for: .connected) }
    }

    @Test("the report counts fetches, rejections and errors")
    func report() {
        let recorder = SimulatorRecorder(deviceCount: 3)
        recorder.fetched(accepted: true, latency: .milliseconds(10))
        recorder.fetched(accepted: false, latency: .milliseconds(2))
        recorder.rejected(code: "bundle.expired")
        recorder.rejected(code: "bundle.expired")
        recorder.failed("events: HTTP 503")
        let report = recorder.report()
        #expect(report.devices == 3)
        #expect(report.bundlesVerified == 1 && report.bundlesNotModified == 1)
        #expect(report.bundleLatency.count == 2)
        #expect(report.rejections == ["bundle.expired": 2])
        #expect(report.errors == ["events: HTTP 503": 1])
        #expect(report.lines.contains { $0.contains("2 rejected (bundle.expired: 2)") })
    }
}
