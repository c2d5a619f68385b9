import CharterJSON

extension Settings {
    /// The `endpoint` section: how agents behave when they cannot reach the service.
    package struct Endpoint: Hashable, Sendable {
        /// Allowed offline grace periods, in hours (up to 90 days).
        package static let offlineGraceBounds = 0...2160
        /// Allowed fallback poll intervals, in seconds (30 seconds to 1 day).
        package static let pollIntervalBounds = 30...86_400

        /// How long an agent keeps enforcing its cached bundle without reaching the service
        /// (`offline_grace_period_hours`, default 72).
        package var offlineGracePeriodHours: Int
        /// How often an agent polls for a new bundle when its push channel is down
        /// (`fallback_poll_interval_seconds`, default 300).
        package var fallbackPollIntervalSeconds: Int

        package init(offlineGracePeriodHours: Int = 72, fallbackPollIntervalSeconds: Int = 300) {
            self.offlineGracePeriodHours = offlineGracePeriodHours
            self.fallbackPollIntervalSeconds = fallbackPollIntervalSeconds
        }

        static func read(_ value: JSONValue, at pointer: JSONPointer, reader: inout DocumentReader) -> Endpoint? {
            let before = reader.issues.count
            let keys = ["offline_grace_period_hours", "fallback_poll_interval_seconds"]
            guard let members = reader.object(value, at: pointer, allowed: keys) else { return nil }
            var result = Endpoint()
            if let value = members["offline_grace_period_hours"],
                let hours = reader.integer(
                    value, at: pointer.appending("offline_grace_period_hours"), in: offlineGraceBounds)
            {
                result.offlineGracePeriodHours = hours
            }
            if let value = members["fallback_poll_interval_seconds"],
                let seconds = reader.integer(
                    value,
                    at: pointer.appending("fallback_poll_interval_seconds"),
                    in: pollIntervalBounds
                )
            {
                result.fallbackPollIntervalSeconds = seconds
            }
            return reader.issues.count == before ? result : nil
        }

        var json: JSONValue {
            .object([
                "offline_grace_period_hours": .integer(Int64(offlineGracePeriodHours)),
                "fallback_poll_interval_seconds": .integer(Int64(fallbackPollIntervalSeconds)),
            ])
        }
    }
}
