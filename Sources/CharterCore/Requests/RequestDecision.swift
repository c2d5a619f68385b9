package import Foundation

/// What the policy says about one elevation request, why, and which settings said it.
package struct RequestDecision: Hashable, Sendable {
    /// The result the endpoint acts on.
    package enum Outcome: Hashable, Sendable {
        /// Run it; `isLogged` tells whether the run goes to the audit log.
        case allowed(isLogged: Bool)
        /// Wait for an approver; the request expires at `expiresAt` if nobody decides.
        case pending(expiresAt: Date)
        /// Refused; `allowsPINOverride` tells whether an offline PIN response may still allow it.
        case denied(allowsPINOverride: Bool)
        /// Not decided because the request is incomplete; the agent should ask again with what is missing.
        case rejected(Rejection)
    }

    /// Why a request could not be decided as submitted.
    package enum Rejection: Hashable, Sendable {
        /// The mode is `reason_required` or `reason_and_approval_required` and the reason is missing or blank.
        case reasonMissing
    }

    /// The rule that produced the outcome.
    package enum Reason: Hashable, Sendable {
        /// Entry `index` of `pre_approved_applications` matched with its protection; `fileName` is the entry's, or
        /// the request's when the entry names none (a signer's entry).
        case preApproved(index: Int, fileName: String)
        /// No pre-approved entry matched; the section's authorization mode decided.
        case mode(AuthorizationMode)
        /// The mode requires approval, and an approval of the same application given at `approvedAt` is still
        /// within `approval.approval_validity_minutes`.
        case approvalStillValid(approvedAt: Date)
        /// The mode requires approval, and a standing approval (an approver's, for a scope and a duration) covers
        /// the request.
        case standingApproval(StandingApproval)
    }

    package let outcome: Outcome
    package let reason: Reason
    /// The global settings or the subsetting whose settings decided.
    package let decidedBy: EffectivePolicy.Source

    package init(outcome: Outcome, reason: Reason, decidedBy: EffectivePolicy.Source) {
        self.outcome = outcome
        self.reason = reason
        self.decidedBy = decidedBy
    }

    /// Decides `request` under `policy` (the effective policy of the request's user and computer) at `now`.
    ///
    /// The first pre-approved application that matches (see
    /// ``Settings/PreApprovedApplication/matches(_:as:)``) allows the request, logged per its
    /// `log_to_audit`. Otherwise the mode of the request kind's section decides: `audit_only` allows and
    /// logs; `reason_required` allows and logs when the trimmed reason is not empty, else rejects with
    /// ``Rejection/reasonMissing``; `approval_required` allows (logged) when `lastApproval` is within the
    /// approval validity or `standingApproval` is given, else is pending until `now` plus the pending lifetime;
    /// `reason_and_approval_required` rejects a missing reason like `reason_required`, then decides like
    /// `approval_required`; `disabled` denies, telling whether the PIN may override.
    ///
    /// - Parameters:
    ///   - request: The request as the agent submitted it.
    ///   - policy: The effective policy of the request's user on the request's computer.
    ///   - now: The time the request arrived.
    ///   - lastApproval: When the same user's request for the same application (same SHA-256, or same path
    ///     when no hash is known) on the same computer was last approved, as the service records it;
    ///   `nil` when never. Only consulted in the approval modes for requests with an application.
    ///   - standingApproval: A standing approval that covers the request at `now`
    ///     (``StandingApproval/covers(_:on:groups:at:)`` is true); only consulted in the approval modes.
    package static func decide(
        _ request: ElevationRequest,
        under policy: EffectivePolicy,
        at now: Date,
        lastApproval: Date? = nil,
        standingApproval: StandingApproval? = nil
    ) -> RequestDecision {
        let settings = policy.settings
        if let application = request.application,
            let index = settings.preApprovedApplications.firstIndex(where: { $0.matches(application, as: request.kind) }
            )
        {
            let entry = settings.preApprovedApplications[index]
            return RequestDecision(
                outcome: .allowed(isLogged: entry.logsToAudit),
                reason: .preApproved(index: index, fileName: entry.fileName ?? application.fileName),
                decidedBy: policy.source
            )
        }
        let (mode, allowsPINOverride) =
            switch request.kind {
            case .runAsAdmin: (settings.runAsAdmin.mode, settings.runAsAdmin.allowsPINOverride)
            case .adminSession: (settings.adminSession.mode, settings.adminSession.allowsPINOverride)
            }
        if mode.needsReason, (request.reason?.trimmingCharacters(in: .whitespacesAndNewlines) ?? "").isEmpty {
            return RequestDecision(outcome: .rejected(.reasonMissing), reason: .mode(mode), decidedBy: policy.source)
        }
        let outcome: Outcome
        switch mode {
        case .disabled:
            outcome = .denied(allowsPINOverride: allowsPINOverride)
        case .auditOnly:
            outcome = .allowed(isLogged: true)
        case .reasonRequired:
            outcome = .allowed(isLogged: true)
        case .approvalRequired, .reasonAndApprovalRequired:
            let validity = TimeInterval(settings.approval.approvalValidityMinutes * 60)
            if request.application != nil, let lastApproval, lastApproval <= now,
                now < lastApproval.addingTimeInterval(validity)
            {
                return RequestDecision(
                    outcome: .allowed(isLogged: true),
                    reason: .approvalStillValid(approvedAt: lastApproval),
                    decidedBy: policy.source
                )
            }
            if let standingApproval, request.application != nil, standingApproval.kind == request.kind,
                standingApproval.isActive(at: now)
            {
                return RequestDecision(
                    outcome: .allowed(isLogged: true), reason: .standingApproval(standingApproval),
                    decidedBy: policy.source
                )
            }
            let lifetime = TimeInterval(settings.approval.pendingLifetimeMinutes * 60)
            outcome = .pending(expiresAt: now.addingTimeInterval(lifetime))
        }
        return RequestDecision(outcome: outcome, reason: .mode(mode), decidedBy: policy.source)
    }
}
