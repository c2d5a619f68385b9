import Synchronization
import Testing

@testable import CharterAgent

@Suite("Simulator")
struct AgentSimulatorTests {
    @Test("map runs every item, never more than the limit at once", arguments: [1, 3, 50])
    func boundedMap(limit: Int) async throws {
        let running = Mutex((now: 0, most: 0))
        let doubled = try await AgentSimulator.map(Array(1...20), atMost: limit) { item in
            running.withLock { $0.now += 1; $0.most = max($0.most, $0.now) }
            await Task.yield()
            running.withLock { $0.now -= 1 }
            return item * 2
        }
        #expect(doubled.sorted() == (1...20).map { $0 * 2 })
        #expect(running.withLock { $0.most } <= limit)
    }

    @Test("map stops at the first error")
    func mapThrows() async {
        struct Refused: Error {}
        await #expect(throws: Refused.self) {
            try await AgentSimulator.map(Array(0..<10), atMost: 2) { item in
                if item == 3 { throw Refused() }
                return item
            }
        }
    }
}
