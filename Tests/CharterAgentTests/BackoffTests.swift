import CharterAgent
import Testing

@Suite("Backoff")
struct BackoffTests {
    @Test("the event-stream backoff doubles from 1 s and stops at 60 s")
    func eventStreamNominal() {
        let delays = (0..<9).map { Backoff.eventStream.nominalDelay(attempt: $0) }
        #expect(delays == [1, 2, 4, 8, 16, 32, 60, 60, 60].map { Duration.seconds($0) })
    }

    @Test("the overload backoff doubles from 1 s and stops at 5 minutes")
    func overloadedNominal() {
        #expect(Backoff.overloaded.nominalDelay(attempt: 8) == .seconds(256))
        #expect(Backoff.overloaded.nominalDelay(attempt: 9) == .seconds(300))
        #expect(Backoff.overloaded.nominalDelay(attempt: 10_000) == .seconds(300))
    }

    @Test("a negative attempt counts as the first")
    func negativeAttempt() {
        #expect(Backoff.eventStream.nominalDelay(attempt: -3) == .seconds(1))
    }

    @Test("jitter stays between half the nominal delay and all of it", arguments: [Backoff.eventStream, .overloaded])
    func jitterBounds(backoff: Backoff) {
        var generator = SplitMix64(state: 42)
        for attempt in 0..<20 {
            let nominal = backoff.nominalDelay(attempt: attempt)
            for _ in 0..<200 {
                let delay = backoff.delay(attempt: attempt, using: &generator)
                #expect(delay >= nominal / 2 && delay <= nominal, "attempt \(attempt): \(delay)")
            }
        }
    }

    @Test("jitter spreads delays across the range")
    func jitterSpreads() {
        var generator = SplitMix64(state: 7)
        let delays = (0..<1_000).map { _ in Backoff.eventStream.delay(attempt: 3, using: &generator) }
        // Nominal 8 s: the delays cover [4 s, 8 s] in both halves.
        #expect(delays.contains { $0 < .seconds(5) })
        #expect(delays.contains { $0 > .seconds(7) })
        #expect(Set(delays).count > 900)
    }

    @Test("the system-random delay keeps the same bounds")
    func systemRandom() {
        for _ in 0..<100 {
            let delay = Backoff.eventStream.delay(attempt: 0)
            #expect(delay >= .milliseconds(500) && delay <= .seconds(1))
        }
    }
}
