/// Why an operation refused what it was asked, in terms any edge can render: the HTTP layer turns it into an
/// RFC 9457 problem document (``ProblemMiddleware``), the CLI into one line.
///
/// Each area throws its own error type and says how it reads as a refusal; the mapping to HTTP lives in one
/// place in CharterServer.
public struct Refusal: Sendable, Equatable {
    public enum Reason: Sendable, Equatable {
        /// The input breaks a rule (HTTP 422).
        case invalid
        /// Well-formed input the operation cannot take, such as text with U+0000 (HTTP 400).
        case malformed
        /// No such resource, or not visible to the caller (HTTP 404).
        case notFound
        /// The change conflicts with the current state (HTTP 409).
        case conflict
        /// A configured quota is used up (HTTP 409, `quota-exceeded`).
        case quotaExceeded
        /// The caller's version is not the current one (HTTP 412).
        case versionMismatch
        /// The caller may not do this (HTTP 403).
        case forbidden
        /// The credential is no longer valid (HTTP 401).
        case unauthenticated
        /// The credential expired and can be renewed (HTTP 401, `token-expired`).
        case credentialExpired
        /// The device waits for an administrator's approval (HTTP 403).
        case pendingApproval
        /// Busy or a dependency is down; retry after the given seconds (HTTP 429 or 503).
        case busy(retryAfterSeconds: Int?)
        case unavailable(retryAfterSeconds: Int?)
        /// The body is larger than the operation takes (HTTP 413).
        case tooLarge
    }

    /// One of several problems found in a refused document.
    public struct Issue: Sendable, Equatable {
        /// RFC 6901 pointer of the offending value.
        public var pointer: String
        public var detail: String

        public init(pointer: String, detail: String) {
            self.pointer = pointer
            self.detail = detail
        }
    }

    public var reason: Reason
    public var detail: String
    /// JSON pointer (bodies) or parameter name (path, query, headers) of the offending input.
    public var field: String?
    public var issues: [Issue]
    /// A narrower code a client acts on within the reason (such as `run-closed` for a conflict); the edge renders it
    /// as its own problem type when it knows one of that name and status, else as the reason's.
    public var code: String?

    public init(_ reason: Reason, _ detail: String, field: String? = nil, issues: [Issue] = [], code: String? = nil) {
        self.reason = reason
        self.detail = detail
        self.field = field
        self.issues = issues
        self.code = code
    }
}

/// An area's error that a client caused, readable as a ``Refusal``. Errors that do not conform are the
/// service's own failures (HTTP 500 with the request id).
public protocol RefusalConvertible: Error {
    var refusal: Refusal { get }
}
