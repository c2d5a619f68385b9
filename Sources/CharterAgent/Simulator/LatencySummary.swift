/// The distribution of a set of latencies: count, nearest-rank percentiles and maximum.
///
/// The p-th percentile is the smallest sample such that at least p % of the samples are at most
/// it (nearest rank: the sample at rank ⌈p/100 × n⌉ in ascending order). It is always one of the
/// samples, never an interpolation.
public struct LatencySummary: Sendable, Hashable {
    /// The number of samples.
    public let count: Int
    /// The median.
    public let p50: Duration?
    /// The 90th percentile.
    public let p90: Duration?
    /// The 99th percentile.
    public let p99: Duration?
    /// The largest sample.
    public let max: Duration?

    /// Summarises samples, in any order.
    ///
    /// - Parameter samples: The latencies.
    public init(_ samples: [Duration]) {
        let sorted = samples.sorted()
        count = sorted.count
        p50 = Self.percentile(50, ofSorted: sorted)
        p90 = Self.percentile(90, ofSorted: sorted)
        p99 = Self.percentile(99, ofSorted: sorted)
        max = sorted.last
    }

    /// The nearest-rank percentile of sorted samples.
    ///
    /// - Parameters:
    ///   - percent: The percentile, in (0, 100].
    ///   - sorted: The samples, ascending.
    /// - Returns: The sample at rank ⌈percent/100 × n⌉, or `nil` when there are none.
    public static func percentile(_ percent: Double, ofSorted sorted: [Duration]) -> Duration? {
        guard !sorted.isEmpty else {
            return nil
        }
        // Integer arithmetic in hundredths of a percent, so that 99 % of 100 samples is rank 99, not 100.
        let basisPoints = Int((percent * 100).rounded())
        let rank = (basisPoints * sorted.count + 9_999) / 10_000
        return sorted[Swift.min(Swift.max(rank, 1), sorted.count) - 1]
    }
}
