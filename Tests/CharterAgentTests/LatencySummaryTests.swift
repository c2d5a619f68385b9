import CharterAgent
import CharterBundle
import Testing

@Suite("Latency percentiles")
struct LatencySummaryTests {
    private static func ms(_ values: [Int]) -> [Duration] {
        values.map { .milliseconds($0) }
    }

    @Test("no samples: count 0 and no percentiles")
    func empty() {
        let summary = LatencySummary([])
        #expect(summary.count == 0)
        #expect(summary.p50 == nil && summary.p90 == nil && summary.p99 == nil && summary.max == nil)
        #expect(summary.text == "n=0")
    }

    @Test("one sample is every percentile")
    func single() {
        let summary = LatencySummary(Self.ms([42]))
        #expect(summary.p50 == .milliseconds(42))
        #expect(summary.p99 == .milliseconds(42))
        #expect(summary.max == .milliseconds(42))
    }

    @Test("1…100 ms: nearest rank gives the sample at ⌈p·n⌉, whatever the input order")
    func hundred() {
        let summary = LatencySummary(Self.ms(Array((1...100).reversed())))
        #expect(summary.count == 100)
        #expect(summary.p50 == .milliseconds(50))
        #expect(summary.p90 == .milliseconds(90))
        #expect(summary.p99 == .milliseconds(99))
        #expect(summary.max == .milliseconds(100))
    }

    @Test(
        "nearest-rank table",
        arguments: [
            (50.0, [1, 2, 3, 4], 2),  // ⌈2⌉ = 2
            (50.0, [1, 2, 3, 4, 5], 3),  // ⌈2.5⌉ = 3
            (90.0, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11], 10),  // ⌈9.9⌉ = 10
            (99.0, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 10),  // ⌈9.9⌉ = 10
            (99.0, Array(1...1000), 990),  // exactly 990
            (99.0, Array(1...1001), 991),  // ⌈990.99⌉ = 991
            (100.0, [3, 1, 2], 3),
            (0.1, [5, 6, 7], 5),  // rank never below 1
        ]
    )
    func table(percent: Double, samples: [Int], expected: Int) {
        #expect(LatencySummary.percentile(percent, ofSorted: Self.ms(samples.sorted())) == .milliseconds(expected))
    }

    @Test("ties and duplicates")
    func duplicates() {
        let summary = LatencySummary(Self.ms([5, 5, 5, 5, 100]))
        #expect(summary.p50 == .milliseconds(5))
        #expect(summary.p90 == .milliseconds(100))
    }

    @Test("milliseconds keep microseconds")
    func milliseconds() {
        #expect(LatencySummary.milliseconds(.microseconds(1_234_567)) == 1234.567)
        #expect(LatencySummary.milliseconds(.seconds(2)) == 2000)
    }

    @Test("JSON summary in milliseconds")
    func json() {
        let json = LatencySummary(Self.ms([10, 20])).jsonValue
        #expect(json["count"] == .integer(2))
        #expect(json["p50"] == .number(10))
        #expect(json["max"] == .number(20))
    }
}
