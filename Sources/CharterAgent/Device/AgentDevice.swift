public import CharterBundle
public import Foundation

/// An enrolled device: its client, its pinned keys and the bundle it holds.
///
/// ``refreshBundle(now:)`` does what docs/agent-protocol.md asks of an agent: fetch with
/// `If-None-Match`, verify in the order of docs/bundle-format.md, and only when every check
/// passes keep the bundle, its ETag, the raised version and the bundle's signing keys. A refused
/// bundle changes nothing; report it with ``reportRejection(_:at:)``.
public struct AgentDevice: Sendable {
    /// What a refresh did.
    public enum Refresh: Sendable, Hashable {
        /// The held bundle is current (`304`).
        case notModified
        /// A bundle passed every check and is now held.
        case accepted(VerifiedBundle)
    }

    /// The enrollment.
    public let enrollment: Enrollment
    /// The client, authenticated as this device.
    public let client: AgentClient
    /// The verifier: pinned keys and held version.
    public private(set) var verifier: BundleVerifier
    /// The bundle held, or `nil` before the first is accepted.
    public private(set) var bundle: VerifiedBundle?
    /// The ETag of the bundle held, sent as `If-None-Match`.
    public private(set) var etag: String?

    /// The version of the bundle held.
    public var heldVersion: Int64? {
        verifier.heldVersion
    }

    /// Creates a device from its enrollment.
    ///
    /// - Parameters:
    ///   - enrollment: The enrollment.
    ///   - client: A client of the service; it is authenticated with the enrollment's token.
    public init(enrollment: Enrollment, client: AgentClient) {
        self.enrollment = enrollment
        self.client = client.authenticated(with: enrollment)
        self.verifier = enrollment.bundleVerifier
    }

    /// Fetches the current bundle and, when it is new, verifies and keeps it.
    ///
    /// - Parameter now: The time to verify at.
    /// - Returns: `.notModified`, or the bundle now held.
    /// - Throws: ``BundleError`` when the bundle is refused (the state is unchanged),
    ///   ``AgentError`` or a transport error when the fetch fails.
    @discardableResult
    public mutating func refreshBundle(now: @autoclosure () -> Date = Date()) async throws -> Refresh {
        switch try await client.fetchBundle(ifNoneMatch: etag) {
        case .notModified:
            return .notModified
        case .bundle(let compact, let etag, _):
            let verified = try verifier.verify(compact, now: now())
            verifier = verifier.accepting(verified)
            bundle = verified
            self.etag = etag
            return .accepted(verified)
        }
    }

    /// Reports a refused bundle to the service as a `bundle.rejected` audit event.
    ///
    /// - Parameters:
    ///   - error: Why the bundle was refused.
    ///   - date: When.
    /// - Throws: ``AgentError`` or a transport error.
    public func reportRejection(_ error: BundleError, at date: Date = Date()) async throws {
        _ = try await client.sendAudit(events: [.bundleRejected(error, at: date)])
    }

    /// Checks in with the version held.
    ///
    /// - Parameter users: The users logged on now.
    /// - Returns: The service's answer; fetch when its `bundleVersion` is above ``heldVersion``.
    /// - Throws: ``AgentError`` or a transport error.
    public func checkin(users: [CheckinUser] = []) async throws -> CheckinResult {
        try await client.checkin(bundleVersion: heldVersion, users: users)
    }
}
