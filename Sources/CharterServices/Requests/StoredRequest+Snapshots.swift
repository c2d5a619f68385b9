import CharterCore
package import CharterStore
package import Foundation

extension StoredRequest {
    /// What the audit log keeps of a request.
    package var auditSnapshot: String {
        AuditJSON.encode(snapshotObject)
    }

    /// The request as a JSON object (audit snapshots, webhook payloads).
    package var snapshotObject: [String: any Sendable] {
        var snapshot: [String: any Sendable] = [
            "id": id.uuidString.lowercased(), "device_id": device.description, "hostname": hostname,
            "kind": kind.rawValue, "status": status.rawValue, "explanation": decisionReason, "logged": isLogged,
        ]
        if let userSID { snapshot["user_sid"] = userSID }
        if let userUPN { snapshot["user_upn"] = userUPN }
        if let directoryUser { snapshot["directory_user_guid"] = directoryUser.description }
        if let application {
            var app: [String: any Sendable] = ["file_name": application.fileName]
            if let path = application.path { app["path"] = path }
            if let sha256 = application.sha256 { app["sha256"] = sha256 }
            if let subject = application.signerSubject { app["signer_subject"] = subject }
            if let thumbprint = application.certificateThumbprint { app["certificate_thumbprint"] = thumbprint }
            if let vendor = application.vendor { app["vendor"] = vendor }
            snapshot["application"] = app
        }
        if let reason { snapshot["reason"] = reason }
        switch source {
        case .global: snapshot["policy"] = "global"
        case .subsetting(let id, let name): snapshot["policy"] = "subsetting \(name) (\(id))"
        }
        if let sessionMinutes { snapshot["session_minutes"] = sessionMinutes }
        if let decidedBy { snapshot["decided_by"] = decidedBy }
        if let comment { snapshot["comment"] = comment }
        if allowsPINOverride { snapshot["pin_override"] = true }
        return snapshot
    }

    /// The body of a webhook delivery about this request.
    package func webhookPayload(event: String, at now: Date) -> String {
        var request = snapshotObject
        request["tenant_id"] = tenant.description
        request["created_at"] = createdAt.ISO8601Format()
        if let expiresAt { request["expires_at"] = expiresAt.ISO8601Format() }
        if let decidedAt { request["decided_at"] = decidedAt.ISO8601Format() }
        return AuditJSON.encode(["event": event, "occurred_at": now.ISO8601Format(), "request": request])
    }
}
