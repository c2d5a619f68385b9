import Foundation

/// A failure a client caused (or may retry), rendered as an RFC 9457 `application/problem+json` document.
///
/// Handlers throw it; ``ProblemMiddleware`` renders it. `type` points at `docs/problems/<slug>.md`, which the
/// service also serves.
struct Problem: Error, Sendable, Equatable {
    /// The kinds of problem, one documentation page each.
    enum Kind: String, Sendable, CaseIterable {
        case malformedRequest = "malformed-request"
        case unauthorized
        case tokenExpired = "token-expired"
        case forbidden
        case pendingApproval = "device-pending-approval"
        case notFound = "not-found"
        case methodNotAllowed = "method-not-allowed"
        case conflict
        case quotaExceeded = "quota-exceeded"
        case preconditionFailed = "precondition-failed"
        case payloadTooLarge = "payload-too-large"
        case unsupportedMediaType = "unsupported-media-type"
        case validationFailed = "validation-failed"
        case tooManyRequests = "too-many-requests"
        case serviceUnavailable = "service-unavailable"
        case internalError = "internal-error"
        case connectorUpdateRequired = "connector-update-required"
        case signingKeyTaken = "signing-key-taken"
        case pageConflict = "page-conflict"
        case runClosed = "run-closed"
        case pagesMissing = "pages-missing"
        case noRole = "no-role"

        var status: Int {
            switch self {
            case .malformedRequest: 400
            case .unauthorized, .tokenExpired: 401
            case .forbidden, .pendingApproval, .noRole: 403
            case .notFound: 404
            case .methodNotAllowed: 405
            case .conflict, .quotaExceeded, .signingKeyTaken: 409
            case .preconditionFailed: 412
            case .payloadTooLarge: 413
            case .unsupportedMediaType: 415
            case .validationFailed: 422
            case .tooManyRequests: 429
            case .serviceUnavailable: 503
            case .internalError: 500
            case .connectorUpdateRequired: 426
            case .pageConflict, .runClosed, .pagesMissing: 409
            }
        }

        var title: String {
            switch self {
            case .malformedRequest: "Malformed request"
            case .unauthorized: "Authentication required"
            case .tokenExpired: "Token expired"
            case .forbidden: "Not allowed"
            case .pendingApproval: "Device awaiting approval"
            case .notFound: "Not found"
            case .methodNotAllowed: "Method not allowed"
            case .conflict: "Conflict"
            case .quotaExceeded: "Quota exceeded"
            case .preconditionFailed: "Precondition failed"
            case .payloadTooLarge: "Payload too large"
            case .unsupportedMediaType: "Unsupported media type"
            case .validationFailed: "Validation failed"
            case .tooManyRequests: "Too many requests"
            case .serviceUnavailable: "Service unavailable"
            case .internalError: "Internal error"
            case .connectorUpdateRequired: "Connector update required"
            case .signingKeyTaken: "Signing key taken"
            case .pageConflict: "Page conflict"
            case .runClosed: "Run closed"
            case .pagesMissing: "Pages missing"
            case .noRole: "No role"
            }
        }
    }

    /// One of several problems found in a rejected document.
    struct Issue: Sendable, Equatable {
        /// RFC 6901 pointer of the offending value.
        var pointer: String
        var detail: String
    }

    var kind: Kind
    var detail: String
    /// JSON pointer (for bodies) or parameter name (for path, query and headers) of the offending input.
    var field: String?
    /// Every problem of a rejected document, rendered as `errors`; empty otherwise.
    var issues: [Issue]
    /// For a 429 or 503: when to try again (`Retry-After`, seconds).
    var retryAfterSeconds: Int?

    init(_ kind: Kind, _ detail: String, field: String? = nil, issues: [Issue] = [], retryAfterSeconds: Int? = nil) {
        self.kind = kind
        self.detail = detail
        self.field = field
        self.issues = issues
        self.retryAfterSeconds = retryAfterSeconds
    }

    /// The JSON body; `instance` carries the request id so a user can quote it to support.
    func document(requestID: String?) -> [String: any Sendable] {
        var document: [String: any Sendable] = [
            "type": "/docs/problems/\(kind.rawValue).md",
            "title": kind.title,
            "status": kind.status,
            "detail": detail,
            "code": kind.rawValue,
        ]
        if let field { document["field"] = field }
        if !issues.isEmpty {
            document["errors"] = issues.map { ["pointer": $0.pointer, "detail": $0.detail] }
        }
        if let requestID { document["instance"] = "urn:charter:request:\(requestID)" }
        return document
    }

    func encoded(requestID: String?) -> Data {
        (try? JSONSerialization.data(
            withJSONObject: document(requestID: requestID),
            options: [.sortedKeys, .withoutEscapingSlashes]
        )) ?? Data("{\"status\":\(kind.status)}".utf8)
    }
}
