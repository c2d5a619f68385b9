public import Foundation

/// A failure of an agent call that is not a transport error.
public enum AgentError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The service answered with an error status.
    ///
    /// `problem` is the RFC 9457 document when the body was one; `retryAfter` is the
    /// `Retry-After` header of a 429 or 503, when given.
    case status(Int, problem: Problem?, retryAfter: Duration?)
    /// The service answered successfully, but not as the protocol says (missing header, bad JSON).
    case invalidResponse(String)

    /// The HTTP status, when the service answered with an error status.
    public var statusCode: Int? {
        if case .status(let status, _, _) = self { status } else { nil }
    }

    /// The problem document, when the service answered with one.
    public var problem: Problem? {
        if case .status(_, let problem, _) = self { problem } else { nil }
    }

    /// Tells whether the device token expired (`401`, problem code `token-expired`): renew it and retry.
    public var isTokenExpired: Bool {
        statusCode == 401 && problem?.code == "token-expired"
    }

    /// Tells whether the protocol says to retry the same request later (429 or 503).
    public var isRetryable: Bool {
        statusCode == 429 || statusCode == 503
    }

    /// A one-line explanation.
    public var description: String {
        switch self {
        case .status(let status, let problem?, _):
            let field = problem.field.map { " (field \($0))" } ?? ""
            return "HTTP \(status): \(problem.detail ?? problem.title ?? problem.type)\(field)"
        case .status(let status, nil, _):
            return "HTTP \(status) without a problem document"
        case .invalidResponse(let reason):
            return "invalid answer: \(reason)"
        }
    }

    /// Parses a `Retry-After` header: delay seconds or an HTTP date (RFC 9110 §10.2.3).
    ///
    /// - Parameters:
    ///   - value: The header value.
    ///   - now: The current time, for a date.
    /// - Returns: The delay (never negative), or `nil` when the value is neither form.
    public static func retryAfter(_ value: String, now: Date) -> Duration? {
        let trimmed = value.trimmingCharacters(in: .whitespaces)
        if !trimmed.isEmpty, trimmed.utf8.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }) {
            return Int64(trimmed).map { .seconds($0) }
        }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss 'GMT'"
        guard let date = formatter.date(from: trimmed) else {
            return nil
        }
        return .milliseconds(max(0, Int64((date.timeIntervalSince(now) * 1000).rounded())))
    }
}
