import CharterJSON

extension Settings {
    /// The `run_as_admin` section: how requests to run one application as administrator are authorised.
    package struct RunAsAdmin: Hashable, Sendable {
        package var mode: AuthorizationMode
        /// Whether the offline PIN response may override a denial (`pin_overrides_denial`).
        package var allowsPINOverride: Bool

        package init(mode: AuthorizationMode = .approvalRequired, allowsPINOverride: Bool = false) {
            self.mode = mode
            self.allowsPINOverride = allowsPINOverride
        }

        static func read(_ value: JSONValue, at pointer: JSONPointer, reader: inout DocumentReader) -> RunAsAdmin? {
            let before = reader.issues.count
            guard
                let members = reader.object(
                    value,
                    at: pointer,
                    allowed: ["mode", "pin_overrides_denial"],
                    required: ["mode"]
                )
            else { return nil }
            var result = RunAsAdmin()
            if let value = members["mode"],
                let mode = reader.enumeration(value, at: pointer.appending("mode"), as: AuthorizationMode.self)
            {
                result.mode = mode
            }
            if let value = members["pin_overrides_denial"],
                let flag = reader.bool(value, at: pointer.appending("pin_overrides_denial"))
            {
                result.allowsPINOverride = flag
            }
            return reader.issues.count == before ? result : nil
        }

        var json: JSONValue {
            .object(["mode": .string(mode.rawValue), "pin_overrides_denial": .bool(allowsPINOverride)])
        }
    }

    /// The `admin_session` section: how requests for a time-limited administrator session are authorised.
    package struct AdminSession: Hashable, Sendable {
        /// Allowed session lengths, in minutes.
        package static let durationBounds = 1...1440

        package var mode: AuthorizationMode
        /// Whether the offline PIN response may override a denial (`pin_overrides_denial`).
        package var allowsPINOverride: Bool
        /// Session length on workstations (`workstation_duration_minutes`, default 15).
        package var workstationDurationMinutes: Int
        /// Session length on servers (`server_duration_minutes`, default 30).
        package var serverDurationMinutes: Int

        package init(
            mode: AuthorizationMode = .approvalRequired,
            allowsPINOverride: Bool = false,
            workstationDurationMinutes: Int = 15,
            serverDurationMinutes: Int = 30
        ) {
            self.mode = mode
            self.allowsPINOverride = allowsPINOverride
            self.workstationDurationMinutes = workstationDurationMinutes
            self.serverDurationMinutes = serverDurationMinutes
        }

        static func read(_ value: JSONValue, at pointer: JSONPointer, reader: inout DocumentReader) -> AdminSession?
        {
            let before = reader.issues.count
            let keys = ["mode", "pin_overrides_denial", "workstation_duration_minutes", "server_duration_minutes"]
            guard let members = reader.object(value, at: pointer, allowed: keys, required: ["mode"]) else {
                return nil
            }
            var result = AdminSession()
            if let value = members["mode"],
                let mode = reader.enumeration(value, at: pointer.appending("mode"), as: AuthorizationMode.self)
            {
                result.mode = mode
            }
            if let value = members["pin_overrides_denial"],
                let flag = reader.bool(value, at: pointer.appending("pin_overrides_denial"))
            {
                result.allowsPINOverride = flag
            }
            if let value = members["workstation_duration_minutes"],
                let minutes = reader.integer(
                    value,
                    at: pointer.appending("workstation_duration_minutes"),
                    in: durationBounds
                )
            {
                result.workstationDurationMinutes = minutes
            }
            if let value = members["server_duration_minutes"],
                let minutes = reader.integer(
                    value, at: pointer.appending("server_duration_minutes"), in: durationBounds)
            {
                result.serverDurationMinutes = minutes
            }
            return reader.issues.count == before ? result : nil
        }

        var json: JSONValue {
            .object([
                "mode": .string(mode.rawValue),
                "pin_overrides_denial": .bool(allowsPINOverride),
                "workstation_duration_minutes": .integer(Int64(workstationDurationMinutes)),
                "server_duration_minutes": .integer(Int64(serverDurationMinutes)),
            ])
        }
    }
}
