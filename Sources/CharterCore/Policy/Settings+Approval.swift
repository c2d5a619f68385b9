import CharterJSON

extension Settings {
    /// The `approval` section: who hears of pending requests and how long requests and approvals last.
    package struct Approval: Hashable, Sendable {
        /// Tenant roles that can be notified of a pending request.
        package enum Role: String, Hashable, Sendable, CaseIterable, Comparable {
            case owner
            case admin
            case approver

            package static func < (lhs: Role, rhs: Role) -> Bool {
                allCases.firstIndex(of: lhs) ?? 0 < allCases.firstIndex(of: rhs) ?? 0
            }
        }

        /// Allowed lifetimes of a pending request, in minutes (5 minutes to 30 days).
        package static let pendingLifetimeBounds = 5...43_200
        /// Allowed validity of an approval for re-runs of the same application, in minutes (up to 7 days).
        package static let approvalValidityBounds = 0...10_080
        /// The most email recipients a section may list.
        package static let maximumEmails = 50

        /// Roles notified of new pending requests (`notify_roles`, default owner, admin and approver).
        package var notifyRoles: Set<Role>
        /// Extra addresses notified of new pending requests (`notify_emails`, default none).
        package var notifyEmails: [String]
        /// How long a request stays pending before it expires (`pending_lifetime_minutes`, default 1440).
        package var pendingLifetimeMinutes: Int
        /// How long an approval also covers re-runs of the same application by the same user on the same
        /// computer (`approval_validity_minutes`, default 0: every run needs its own approval).
        package var approvalValidityMinutes: Int

        package init(
            notifyRoles: Set<Role> = Set(Role.allCases),
            notifyEmails: [String] = [],
            pendingLifetimeMinutes: Int = 1440,
            approvalValidityMinutes: Int = 0
        ) {
            self.notifyRoles = notifyRoles
            self.notifyEmails = notifyEmails
            self.pendingLifetimeMinutes = pendingLifetimeMinutes
            self.approvalValidityMinutes = approvalValidityMinutes
        }

        static func read(_ value: JSONValue, at pointer: JSONPointer, reader: inout DocumentReader) -> Approval? {
            let before = reader.issues.count
            let keys = ["notify_roles", "notify_emails", "pending_lifetime_minutes", "approval_validity_minutes"]
            guard let members = reader.object(value, at: pointer, allowed: keys) else { return nil }
            var result = Approval()
            if let value = members["notify_roles"],
                let roles = reader.uniqueArray(
                    value,
                    at: pointer.appending("notify_roles"),
                    maxCount: Role.allCases.count,
                    element: { reader, item, itemPointer in reader.enumeration(item, at: itemPointer, as: Role.self) }
                )
            {
                result.notifyRoles = Set(roles)
            }
            if let value = members["notify_emails"],
                let emails = reader.uniqueArray(
                    value,
                    at: pointer.appending("notify_emails"),
                    maxCount: maximumEmails,
                    element: {
                        (reader: inout DocumentReader, item: JSONValue, itemPointer: JSONPointer) -> String? in
                        guard let email = reader.string(item, at: itemPointer, maxLength: 254) else { return nil }
                        guard isPlausibleEmail(email) else {
                            reader.report(itemPointer, "must be an email address such as it@example.com")
                            return nil
                        }
                        return email
                    }
                )
            {
                result.notifyEmails = emails
            }
            if let value = members["pending_lifetime_minutes"],
                let minutes = reader.integer(
                    value,
                    at: pointer.appending("pending_lifetime_minutes"),
                    in: pendingLifetimeBounds
                )
            {
                result.pendingLifetimeMinutes = minutes
            }
            if let value = members["approval_validity_minutes"],
                let minutes = reader.integer(
                    value,
                    at: pointer.appending("approval_validity_minutes"),
                    in: approvalValidityBounds
                )
            {
                result.approvalValidityMinutes = minutes
            }
            return reader.issues.count == before ? result : nil
        }

        /// One `@`, a non-empty local part, a dotted domain, no whitespace or control characters: enough to catch
        /// typos. Read as Unicode scalars, as a JSON Schema pattern reads it (a combining mark after
        /// `@` or `.` must not hide the separator inside one Swift `Character`).
        package static func isPlausibleEmail(_ email: String) -> Bool {
            let scalars = email.unicodeScalars
            guard !scalars.contains(where: { $0.properties.isWhitespace || $0.properties.generalCategory == .control })
            else { return false }
            let parts = scalars.split(separator: "@", omittingEmptySubsequences: false)
            guard parts.count == 2, !parts[0].isEmpty else { return false }
            let labels = parts[1].split(separator: ".", omittingEmptySubsequences: false)
            return labels.count >= 2 && labels.allSatisfy { !$0.isEmpty }
        }

        var json: JSONValue {
            .object([
                "notify_roles": .array(notifyRoles.sorted().map { .string($0.rawValue) }),
                "notify_emails": .array(notifyEmails.map { .string($0) }),
                "pending_lifetime_minutes": .integer(Int64(pendingLifetimeMinutes)),
                "approval_validity_minutes": .integer(Int64(approvalValidityMinutes)),
            ])
        }
    }
}
