package import CharterCore
package import CharterJSON
package import CharterStore
package import Foundation

extension RequestService {
    /// What an approver asks for beyond approving the one request: a standing approval for a scope and a
    /// duration, and an entry in the pre-approved applications.
    package struct ApprovalOptions: Sendable {
        /// `request` approves the one request (and its re-run cover); the others also store a standing approval.
        package var scope: StandingApproval.Scope.Kind
        /// The group of a `group` scope.
        package var group: ObjectGUID?
        /// How long a standing approval lasts; required for, and only for, a scope other than `request`.
        package var durationMinutes: Int?
        /// Where to add the request's application as a pre-approved application, and how.
        package var preApproval: PreApproval?

        package init(
            scope: StandingApproval.Scope.Kind = .request, group: ObjectGUID? = nil, durationMinutes: Int? = nil,
            preApproval: PreApproval? = nil
        ) {
            self.scope = scope
            self.group = group
            self.durationMinutes = durationMinutes
            self.preApproval = preApproval
        }
    }

    /// An entry to add to a list of pre-approved applications, for the approved request's application.
    package struct PreApproval: Sendable {
        /// Which list: the global settings', a subsetting's, or the library of a baseline assigned to the tenant.
        package enum Target: Sendable, Hashable {
            case settings
            case subsetting(SubsettingID)
            case baseline(BaselineID)
        }

        package var target: Target
        /// The entry's members as the approver gave them (`protection`, `kind`, `log_to_audit`, …); `file_name`
        /// defaults to the request's file name, `applies_to` to the request's kind, `kind` to `application`.
        package var entry: [String: JSONValue]

        package init(target: Target, entry: [String: JSONValue]) {
            self.target = target
            self.entry = entry
        }
    }

    /// Where the pre-approval of an approval body lies, for the pointers of its problems.
    package static let preApprovalPointer = JSONPointer().appending("add_to_pre_approved")

    /// Approves a pending request as ``decide(_:approve:comment:of:msp:by:)`` does and, in the same transaction,
    /// stores the standing approval and adds the pre-approved entry that `options` ask for; everything is audited
    /// and the devices whose policy changed are hinted.
    ///
    /// - Throws: ``RequestError`` for options that do not fit the request (each with the body member at fault),
    ///   ``RequestError/alreadyDecided(_:)`` when the request is no longer pending; `StoreError.versionMismatch`
    ///   never (the lists are changed under a row lock).
    package func approve(
        _ id: UUID, comment: String?, options: ApprovalOptions, of tenant: TenantID, msp: MSPID, by caller: Caller
    ) async throws -> StoredRequest {
        if let comment, comment.count > Self.maximumCommentLength { throw RequestError.commentTooLong }
        try Self.check(options)
        let now = now()
        return try await database.withTenant(tenant, msp: msp, logger: caller.logger) { tx in
            let before = try await tx.requests.get(id)
            guard before.status == .pending, let expiresAt = before.expiresAt, expiresAt > now else {
                throw RequestError.alreadyDecided(before.status)
            }
            let standing = try await standingApproval(for: before, options: options, in: tx, now: now, by: caller)
            var addition: Addition?
            if let preApproval = options.preApproval {
                let entry = try Self.entry(preApproval, for: before)
                addition = try await add(
                    entry, to: preApproval.target, of: tenant, msp: msp, in: tx, now: now, by: caller
                )
            }
            guard
                let decided = try await tx.requests.decide(
                    id, status: .approved, by: caller.actor.id, name: caller.actor.name, comment: comment, at: now
                )
            else { throw RequestError.alreadyDecided(before.status) }
            if let standing {
                try await tx.standingApprovals.create(standing, of: tenant, approvedByID: caller.actor.id)
            }
            let payload = decided.webhookPayload(event: RequestEvent.decided, at: now)
            try await tx.webhooks.enqueue(tenant, event: RequestEvent.decided, payload: payload, at: now)
            // As in `decide`: the audit chain and the change feed are locked until the commit, so they come last.
            try await tx.audit.record(
                "request.approved", on: ("request", id.uuidString.lowercased()), before: before.auditSnapshot,
                after: decided.auditSnapshot, by: caller, at: now, in: .tenant(tenant)
            )
            if let standing {
                try await tx.audit.record(
                    "standing_approval.created", on: ("standing_approval", standing.id.uuidString.lowercased()),
                    after: standing.auditSnapshot, by: caller, at: now, in: .tenant(tenant)
                )
            }
            if case .tenantList(let policyBefore, let edit) = addition {
                try await tx.audit.record(
                    edit.action, on: edit.target, before: edit.before, after: edit.after, by: caller, at: now,
                    in: .tenant(tenant)
                )
                try await PolicyChanges.publish(of: tenant, from: policyBefore, in: tx)
            }
            try await Self.hint(decided, in: tx)
            if case .baseline(let baseline, let entry) = addition {
                try await Self.addToLibrary(entry, of: baseline, msp: msp, in: tx, at: now, by: caller)
            }
            return decided
        }
    }

    /// Refuses options that contradict each other, before anything is read.
    private static func check(_ options: ApprovalOptions) throws {
        switch (options.scope, options.durationMinutes) {
        case (.request, .some): throw RequestError.durationWithoutScope
        case (.request, .none): break
        case (_, .none): throw RequestError.durationRequired
        case (_, .some(let minutes)):
            guard StandingApproval.durationBounds.contains(minutes) else { throw RequestError.durationOutOfRange }
        }
        switch (options.scope, options.group) {
        case (.group, .none): throw RequestError.groupRequired
        case (.group, .some), (_, .none): break
        case (_, .some): throw RequestError.groupWithoutGroupScope
        }
    }

    /// The standing approval `options` ask for on `request`, checked against it; `nil` for the `request` scope.
    private func standingApproval(
        for request: StoredRequest, options: ApprovalOptions, in tx: Transaction, now: Date, by caller: Caller
    ) async throws -> StandingApproval? {
        guard options.scope != .request, let minutes = options.durationMinutes else { return nil }
        guard let application = request.application else { throw RequestError.scopeNeedsApplication }
        let sha256 = application.sha256.flatMap { HexDigest.normalized($0, lengths: [64]) }
        let scope: StandingApproval.Scope
        switch options.scope {
        case .request:
            return nil
        case .userOnComputer:
            guard let user = request.directoryUser else { throw RequestError.scopeNeedsDirectoryUser }
            guard sha256 != nil || application.path != nil else { throw RequestError.scopeNeedsSHA256 }
            scope = .userOnComputer(user: user, device: request.device)
        case .group:
            guard let group = options.group else { throw RequestError.groupRequired }
            guard sha256 != nil else { throw RequestError.scopeNeedsSHA256 }
            guard let user = request.directoryUser,
                try await tx.policyFacts.facts(about: [user], in: request.tenant).groups(of: user)
                    .contains(where: { $0.group == group })
            else { throw RequestError.notInGroup(group) }
            scope = .group(group)
        case .tenant:
            guard sha256 != nil else { throw RequestError.scopeNeedsSHA256 }
            scope = .tenant
        }
        return StandingApproval(
            id: UUID(), requestID: request.id, kind: request.kind, scope: scope, sha256: sha256,
            path: sha256 == nil ? application.path : nil, approvedAt: now,
            expiresAt: now.addingTimeInterval(TimeInterval(minutes * 60)), approvedBy: caller.actor.name
        )
    }

    /// The pre-approved entry for `request`, validated as an entry of a settings document is.
    private static func entry(_ preApproval: PreApproval, for request: StoredRequest) throws
        -> Settings.PreApprovedApplication
    {
        guard let application = request.application else { throw RequestError.preApprovalNeedsApplication }
        var members = preApproval.entry
        if members["file_name"] == nil { members["file_name"] = .string(application.fileName) }
        if members["applies_to"] == nil { members["applies_to"] = .array([.string(request.kind.rawValue)]) }
        if members["kind"] == nil {
            members["kind"] = .string(Settings.PreApprovedApplication.Kind.application.rawValue)
        }
        do {
            return try Settings.PreApprovedApplication.decode(.object(members), at: preApprovalPointer)
        } catch {
            throw RequestError.invalidPreApproval(error)
        }
    }

    /// A change of the settings or of a subsetting, as the audit log records it.
    private struct ListEdit {
        var action: String
        var target: (type: String, id: String)
        var before: String
        var after: String
    }

    /// The addition an approval makes, before the approval's own writes.
    private enum Addition {
        /// The tenant's settings or subsetting changed (under a row lock): audited and published with the approval,
        /// from the tenant's policy before.
        case tenantList(before: PolicyChanges.Snapshot, edit: ListEdit)
        /// The baseline's row is locked; its library is written last (``addToLibrary(_:of:msp:in:at:by:)``).
        case baseline(BaselineID, Settings.PreApprovedApplication)
    }

    /// Appends `entry` to the target's list of the tenant under a row lock and returns the change to audit; for
    /// a baseline, checks that it is assigned to the tenant and locks it, for the write at the end.
    private func add(
        _ entry: Settings.PreApprovedApplication, to target: PreApproval.Target, of tenant: TenantID, msp: MSPID,
        in tx: Transaction, now: Date, by caller: Caller
    ) async throws -> Addition {
        switch target {
        case .baseline(let id):
            // The row lock before the approval takes the audit chain's, in the order a baseline edit takes them.
            // With the tenant selected only its assigned baselines are visible: unknown, another MSP's and not
            // assigned here are one refusal.
            do {
                _ = try await tx.baselines.get(msp, id: id, forUpdate: true)
            } catch StoreError.notFound {
                throw RequestError.unassignedBaseline(id)
            }
            return .baseline(id, entry)
        case .settings, .subsetting:
            let subsetting: SubsettingID? = if case .subsetting(let id) = target { id } else { nil }
            let policyBefore = try await PolicyChanges.snapshot(of: tenant, in: tx)
            let edit = try await add(entry, toSubsetting: subsetting, of: tenant, in: tx, now: now, by: caller)
            return .tenantList(before: policyBefore, edit: edit)
        }
    }

    /// Adds `entry` to a baseline's library in the approval's transaction, after everything of the tenant's: the
    /// write leaves the tenant to hint and audit every tenant the baseline is assigned to.
    private static func addToLibrary(
        _ entry: Settings.PreApprovedApplication, of baseline: BaselineID, msp: MSPID, in tx: Transaction,
        at now: Date, by caller: Caller
    ) async throws {
        try await tx.leaveTenant()
        do {
            _ = try await BaselineService.addToLibrary(
                entry, of: baseline, msp: msp, expectedVersion: nil, in: tx, at: now, by: caller
            )
        } catch BaselineError.libraryFull {
            throw RequestError.preApprovedListFull(field: preApprovalPointer.description)
        }
    }

    /// Appends `entry` to the global list (`subsetting` `nil`) or a subsetting's under a row lock and returns the
    /// change to audit.
    private func add(
        _ entry: Settings.PreApprovedApplication, toSubsetting subsetting: SubsettingID?, of tenant: TenantID,
        in tx: Transaction, now: Date, by caller: Caller
    ) async throws -> ListEdit {
        let pointer = Self.preApprovalPointer.description
        switch subsetting {
        case .none:
            let current = try await tx.settings.get(tenant, forUpdate: true)
            var settings = current.settings
            guard settings.preApprovedApplications.count < Settings.PreApprovedApplication.maximumCount else {
                throw RequestError.preApprovedListFull(field: pointer)
            }
            settings.preApprovedApplications.append(entry)
            let (before, after) = try await tx.settings.replace(
                tenant, with: settings, sections: current.sections.union([.preApprovedApplications]),
                expectedVersion: current.version, by: caller.actor, at: now
            )
            return ListEdit(
                action: "settings.replaced", target: ("settings", tenant.description), before: before.auditSnapshot,
                after: after.auditSnapshot
            )
        case .some(let id):
            let current: StoredSubsetting
            do {
                current = try await tx.subsettings.get(tenant, id: id, forUpdate: true)
            } catch StoreError.notFound {
                throw RequestError.unknownSubsetting(id)
            }
            var subsetting = current.subsetting
            var (list, _) = try await PolicyService.list(of: subsetting, in: tenant, tx: tx)
            guard list.count < Settings.PreApprovedApplication.maximumCount else {
                throw RequestError.preApprovedListFull(field: pointer)
            }
            list.append(entry)
            subsetting.overrides.preApprovedApplications = list
            let (before, after) = try await tx.subsettings.update(
                tenant, subsetting, expectedVersion: current.version, now: now
            )
            return ListEdit(
                action: "subsetting.updated", target: ("subsetting", id.description), before: before.auditSnapshot,
                after: after.auditSnapshot
            )
        }
    }
}

extension StandingApproval {
    /// What the audit log keeps of a standing approval.
    package var auditSnapshot: String {
        var members: [String: JSONValue] = [
            "id": .string(id.uuidString.lowercased()),
            "request_id": .string(requestID.uuidString.lowercased()),
            "kind": .string(kind.rawValue),
            "scope": .string(scope.kind.rawValue),
            "approved_at": .string(approvedAt.ISO8601Format()),
            "expires_at": .string(expiresAt.ISO8601Format()),
        ]
        switch scope {
        case .userOnComputer(let user, let device):
            members["user"] = .string(user.description)
            members["device_id"] = .string(device.description)
        case .group(let group):
            members["group"] = .string(group.description)
        case .tenant:
            break
        }
        members["sha256"] = sha256.map(JSONValue.string)
        members["path"] = path.map(JSONValue.string)
        return String(decoding: JSONValue.object(members).canonicalData, as: UTF8.self)
    }
}
