import CharterCore
import CharterServices
import CharterStore
import Foundation

/// The email approvers get about a request: when it starts to wait for them, and when it expired unanswered.
///
/// Plain text: who asked for what on which computer and why, the policy that decided, the times, the request
/// id and the API calls that approve or deny it. Nothing secret: no token, key or signature.
enum ApprovalEmail {
    /// The notification of `event` about `request` for `recipients`, made at `now`.
    static func notification(
        _ event: EmailNotification.Event, about request: StoredRequest, tenantName: String, recipients: [String],
        at now: Date
    ) -> EmailNotification {
        EmailNotification(
            id: UUID(), topic: .request(request.id, event), recipients: recipients,
            subject: subject(event, about: request), body: body(event, about: request, tenantName: tenantName),
            createdAt: now
        )
    }

    /// `Approval needed: setup.exe for ann@example.com on WS-17`, or `Request expired: …`.
    static func subject(_ event: EmailNotification.Event, about request: StoredRequest) -> String {
        let what = request.application.map { line($0.fileName) } ?? "administrator session"
        let prefix = event == .pending ? "Approval needed" : "Request expired"
        let who = shortened(line(user(of: request)))
        return "\(prefix): \(shortened(what)) for \(who) on \(shortened(line(request.hostname)))"
    }

    /// The text: an opening line, the request's details as a table, and what to do about it.
    static func body(_ event: EmailNotification.Event, about request: StoredRequest, tenantName: String) -> String {
        let tenant = request.tenant.description
        let id = request.id.uuidString.lowercased()
        var fields: [(String, String?)] = [
            ("Tenant", "\(line(tenantName)) (\(tenant))"),
            ("Kind", kind(of: request)),
            ("User", user(of: request)),
            ("User SID", request.userUPN == nil ? nil : request.userSID),
            ("Computer", line(request.hostname)),
            ("Application", request.application?.fileName),
            ("Path", request.application?.path),
            ("SHA-256", request.application?.sha256),
            ("Signed by", request.application?.signerSubject),
            ("Vendor", request.application?.vendor),
        ]
        let policy =
            switch request.source {
            case .global: "global settings"
            case .subsetting(let id, let name): "subsetting \(line(name)) (\(id))"
            }
        fields += [
            ("Reason", request.reason ?? "(none given)"),
            ("Policy", policy),
            ("Requested", request.createdAt.ISO8601Format()),
            (event == .pending ? "Expires" : "Expired", request.expiresAt?.ISO8601Format()),
            ("Request id", id),
        ]
        // Labels without a value are left out, but still set the width, so every email lines up alike.
        let width = fields.map(\.0.count).max() ?? 0
        let table = fields.compactMap { label, value in
            value.map { label + ":" + String(repeating: " ", count: width - label.count + 2) + line($0) }
        }
        let path = "/v1/tenants/\(tenant)/requests/\(id)"
        let opening: String
        let closing: [String]
        switch event {
        case .pending:
            opening = "A request for administrator rights is waiting for approval."
            closing = [
                "To approve or deny it, call the Charter API with an API key of role approver or above (the body",
                "{\"comment\": \"...\"} is optional). The first decision wins, and the computer hears of it at once:",
                "",
                "    POST \(path)/approve",
                "    POST \(path)/deny",
                "",
                "If nobody decides before it expires, the request expires and the user has to ask again.",
            ]
        case .expired:
            opening =
                "A request for administrator rights expired: nobody approved or denied it in time. The user has to ask "
                + "again."
            closing = ["The request: GET \(path)"]
        }
        let footer = [
            "-- ",
            "Charter sends this to the addresses in approval.notify_emails of the policy that decided the request.",
        ]
        return ([opening, ""] + table + [""] + closing + [""] + footer).joined(separator: "\n") + "\n"
    }

    private static func kind(of request: StoredRequest) -> String {
        switch request.kind {
        case .runAsAdmin: "run an application as administrator"
        case .adminSession: "administrator session" + (request.sessionMinutes.map { " of \($0) minutes" } ?? "")
        }
    }

    private static func user(of request: StoredRequest) -> String {
        request.userUPN ?? request.userSID ?? request.userGUID?.description ?? "unknown user"
    }

    private static func line(_ text: String) -> String {
        EmailText.line(text)
    }

    /// At most 60 characters of `text`, with an ellipsis when cut.
    private static func shortened(_ text: String) -> String {
        text.count <= 60 ? text : text.prefix(59) + "…"
    }
}
