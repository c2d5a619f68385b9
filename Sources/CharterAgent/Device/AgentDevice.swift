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

    /// The enrollment; its device token changes when it is renewed.
    public private(set) var enrollment: Enrollment
    /// The client, authenticated as this device.
    public private(set) var client: AgentClient
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
        try await renewTokenIfDue(now: now())
        let fetch: BundleFetch
        do {
            fetch = try await client.fetchBundle(ifNoneMatch: etag)
        } catch let error as AgentError where error.isTokenExpired {
            try await renewToken()
            fetch = try await client.fetchBundle(ifNoneMatch: etag)
        }
        switch fetch {
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

    /// Verifies and keeps a bundle the service pushed on the event stream, as ``refreshBundle(now:)``
    /// does a fetched one; the bundle already held (same ETag) changes nothing.
    ///
    /// - Parameters:
    ///   - pushed: The `current_bundle` event's bundle.
    ///   - now: The time to verify at.
    /// - Returns: `.notModified` for the bundle held, or the bundle now held.
    /// - Throws: ``BundleError`` when the bundle is refused (the state is unchanged).
    @discardableResult
    public mutating func accept(_ pushed: PushedBundle, now: Date = Date()) throws(BundleError) -> Refresh {
        guard pushed.etag != etag else { return .notModified }
        let verified = try verifier.verify(pushed.compact, now: now)
        verifier = verifier.accepting(verified)
        bundle = verified
        etag = pushed.etag
        return .accepted(verified)
    }

    /// How long before its expiry a device token is renewed.
    public static let renewalMargin: TimeInterval = 3600

    /// Renews the device token with a signature by the device key; the client sends the new one from now on.
    ///
    /// - Throws: ``AgentError`` (`401` when the device was revoked) or a transport error.
    public mutating func renewToken() async throws {
        let renewal = try await client.renewToken(deviceID: enrollment.deviceID, signingKey: enrollment.signingKey)
        enrollment.deviceToken = renewal.deviceToken
        enrollment.tokenExpiresAt = renewal.tokenExpiresAt
        client = client.authenticated(with: enrollment)
    }

    /// Renews the device token when it expires within ``renewalMargin`` of `now`.
    ///
    /// - Parameter now: The current time.
    /// - Throws: As ``renewToken()``.
    public mutating func renewTokenIfDue(now: Date = Date()) async throws {
        guard let expiresAt = enrollment.tokenExpiresAt, expiresAt.timeIntervalSince(now) < Self.renewalMargin else { return }
        try await renewToken()
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
