public import CharterBundle

/// What an ``AgentSimulator`` run measured and counted.
public struct SimulatorReport: Sendable, Hashable {
    /// The devices the simulator was asked for.
    public var devices: Int
    /// The devices enrolled.
    public var enrolled: Int
    /// The enrollments answered `200` (an existing device re-enrolled).
    public var reenrolled: Int
    /// The devices whose stream is live now.
    public var connected: Int
    /// `POST /v1/agent/enroll`, request to answer.
    public var enrollLatency: LatencySummary
    /// `GET /v1/agent/events`, request to the `ready` event, over every (re)connect.
    public var connectLatency: LatencySummary
    /// `GET /v1/agent/bundle` plus verification (`304`s included).
    public var bundleLatency: LatencySummary
    /// The events received, by type.
    public var hints: [String: Int]
    /// The bundles that passed verification, fetched or pushed.
    public var bundlesVerified: Int
    /// The fetches answered `304`.
    public var bundlesNotModified: Int
    /// The bundles fetched and kept without verification (the simulator's `verifiesBundles` off).
    public var bundlesUnverified: Int
    /// The pushed bundles (`current_bundle`) taken: verified, or without verification when that is off.
    public var bundlesPushed: Int
    /// The `bundle` hints whose pushed bundle did not come within the wait `ready` announced (then fetched).
    public var pushesMissed: Int
    /// The bundles refused, by ``BundleError/code``.
    public var rejections: [String: Int]
    /// The event streams that ended and were reopened (or are being reopened).
    public var reconnects: Int
    /// The failures, by call and cause.
    public var errors: [String: Int]

    /// The report as one JSON object; durations are in milliseconds.
    public var jsonValue: JSONValue {
        .object([
            "devices": .integer(Int64(devices)),
            "enrolled": .integer(Int64(enrolled)),
            "reenrolled": .integer(Int64(reenrolled)),
            "connected": .integer(Int64(connected)),
            "enroll_ms": enrollLatency.jsonValue,
            "connect_ms": connectLatency.jsonValue,
            "bundle_fetch_verify_ms": bundleLatency.jsonValue,
            "hints": Self.counts(hints),
            "bundles_verified": .integer(Int64(bundlesVerified)),
            "bundles_not_modified": .integer(Int64(bundlesNotModified)),
            "bundles_unverified": .integer(Int64(bundlesUnverified)),
            "bundles_pushed": .integer(Int64(bundlesPushed)),
            "pushes_missed": .integer(Int64(pushesMissed)),
            "bundle_rejections": Self.counts(rejections),
            "stream_reconnects": .integer(Int64(reconnects)),
            "errors": Self.counts(errors),
        ])
    }

    /// The report as lines of text.
    public var lines: [String] {
        [
            "devices       \(enrolled)/\(devices) enrolled (\(reenrolled) re-enrolled), \(connected) connected",
            "enroll        \(enrollLatency.text)",
            "connect       \(connectLatency.text)",
            "bundle        \(bundleLatency.text) (fetch + verify)",
            "bundles       \(bundlesVerified) verified, \(bundlesNotModified) not modified, "
                + "\(rejections.values.reduce(0, +)) rejected\(Self.text(rejections))"
                + (bundlesUnverified > 0 ? ", \(bundlesUnverified) fetched without verification" : "")
                + (bundlesPushed + pushesMissed > 0 ? "; \(bundlesPushed) pushed, \(pushesMissed) pushes missed" : ""),
            "hints         \(hints.values.reduce(0, +))\(Self.text(hints))",
            "reconnects    \(reconnects)",
            "errors        \(errors.values.reduce(0, +))\(Self.text(errors))",
        ]
    }

    private static func counts(_ counts: [String: Int]) -> JSONValue {
        .object(counts.mapValues { .integer(Int64($0)) })
    }

    private static func text(_ counts: [String: Int]) -> String {
        guard !counts.isEmpty else {
            return ""
        }
        return " (" + counts.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: ", ") + ")"
    }
}

extension LatencySummary {
    /// The summary as a JSON object in milliseconds (`null` percentiles without samples).
    public var jsonValue: JSONValue {
        .object([
            "count": .integer(Int64(count)),
            "p50": Self.milliseconds(p50),
            "p90": Self.milliseconds(p90),
            "p99": Self.milliseconds(p99),
            "max": Self.milliseconds(max),
        ])
    }

    /// The summary as text: `n=… p50=…ms p90=…ms p99=…ms max=…ms`.
    public var text: String {
        guard let p50, let p90, let p99, let max else {
            return "n=0"
        }
        return "n=\(count) p50=\(Self.format(p50)) p90=\(Self.format(p90)) p99=\(Self.format(p99)) max=\(Self.format(max))"
    }

    /// A duration in milliseconds, with microsecond precision.
    public static func milliseconds(_ duration: Duration) -> Double {
        let (seconds, attoseconds) = duration.components
        return (Double(seconds) * 1_000 + Double(attoseconds / 1_000_000_000) / 1_000_000).rounded(toPlaces: 3)
    }

    private static func milliseconds(_ duration: Duration?) -> JSONValue {
        duration.map { .number(milliseconds($0)) } ?? .null
    }

    private static func format(_ duration: Duration) -> String {
        let value = milliseconds(duration)
        return value < 10 ? "\((value * 100).rounded() / 100)ms" : "\(Int(value.rounded()))ms"
    }
}

extension Double {
    fileprivate func rounded(toPlaces places: Int) -> Double {
        var scale = 1.0
        for _ in 0..<places { scale *= 10 }
        return (self * scale).rounded() / scale
    }
}
