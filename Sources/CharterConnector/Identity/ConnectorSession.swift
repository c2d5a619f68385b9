import CharterAgent
import CharterAgentWire
import Crypto
package import Foundation
package import Logging

/// The connector's identity while it runs: its stored state, and its token, renewed by signature when less than
/// an hour is left or when the service answers `401` `token-expired` (docs/connector-protocol.md, "Connector tokens").
package actor ConnectorSession {
    package nonisolated let client: ConnectorClient
    package nonisolated let stateDirectory: String
    package nonisolated let logger: Logger
    private(set) package var state: ConnectorState

    /// The calls waiting for the renewal under way; `nil` when none is.
    private var renewalWaiters: [CheckedContinuation<Void, any Error>]?
    /// Tokens are renewed when less than this is left.
    package static let renewalMargin: TimeInterval = 3600

    package init(client: ConnectorClient, state: ConnectorState, stateDirectory: String, logger: Logger) {
        self.client = client
        self.state = state
        self.stateDirectory = stateDirectory
        self.logger = logger
    }

    /// The session of the stored identity, enrolling first with the configured token when there is none.
    ///
    /// - Throws: ``ConnectorError/notEnrolled(stateDirectory:)`` without identity or token, ``AgentError`` when
    ///   enrollment is refused, ``ConnectorError/state(_:)`` when the state cannot be read or written.
    package static func open(
        _ configuration: ConnectorConfiguration, client: ConnectorClient, hostname: String, logger: Logger
    ) async throws -> ConnectorSession {
        if let state = try ConnectorState.load(from: configuration.stateDirectory) {
            if state.serviceURL != configuration.serviceURL {
                logger.warning(
                    "connector identity was enrolled with another service URL",
                    metadata: ["connector.id": "\(state.connectorID)", "service.url": "\(state.serviceURL)"]
                )
            }
            return ConnectorSession(client: client, state: state, stateDirectory: configuration.stateDirectory, logger: logger)
        }
        guard let token = configuration.enrollmentToken else {
            throw ConnectorError.notEnrolled(stateDirectory: configuration.stateDirectory)
        }
        let state = try await enroll(configuration, token: token, client: client, hostname: hostname, current: nil, logger: logger)
        return ConnectorSession(client: client, state: state, stateDirectory: configuration.stateDirectory, logger: logger)
    }

    /// Enrolls (or re-enrolls with proof by `current`) with a new key and stores the identity.
    ///
    /// - Returns: The new state, already saved.
    package static func enroll(
        _ configuration: ConnectorConfiguration, token: String, client: ConnectorClient, hostname: String,
        current: ConnectorState?, logger: Logger
    ) async throws -> ConnectorState {
        let key = Curve25519.Signing.PrivateKey()
        let (enrollment, reenrolled) = try await client.enroll(
            token: token, name: configuration.name, hostname: hostname, signingKey: key, provingWith: current
        )
        let state = ConnectorState(
            connectorID: enrollment.connectorID, tenantID: enrollment.tenantID, serviceURL: configuration.serviceURL,
            signingKey: key, connectorToken: enrollment.connectorToken, tokenExpiresAt: enrollment.tokenExpiresAt
        )
        try state.save(to: configuration.stateDirectory)
        logger.notice(
            reenrolled ? "connector re-enrolled" : "connector enrolled",
            metadata: ["connector.id": "\(state.connectorID)", "tenant.id": "\(state.tenantID)"]
        )
        return state
    }

    /// A token with at least an hour left, renewed first when needed.
    package func token(now: Date = Date()) async throws -> String {
        if state.tokenExpiresAt.timeIntervalSince(now) < Self.renewalMargin {
            try await renew(replacing: state.connectorToken)
        }
        return state.connectorToken
    }

    /// Renews the token unless another call already replaced `failed`; calls that arrive while a renewal is under
    /// way (the actor is reentrant across its network call) wait for that one instead of renewing again.
    package func renew(replacing failed: String) async throws {
        guard state.connectorToken == failed else { return }
        if renewalWaiters != nil {
            try await withCheckedThrowingContinuation { renewalWaiters?.append($0) }
            return
        }
        renewalWaiters = []
        let result: Result<Void, any Error>
        do {
            let renewal = try await client.renewToken(connectorID: state.connectorID, signingKey: state.signingKey)
            state.connectorToken = renewal.connectorToken
            state.tokenExpiresAt = renewal.tokenExpiresAt
            try state.save(to: stateDirectory)
            logger.info("connector token renewed", metadata: ["token.expires_at": "\(renewal.tokenExpiresAt)"])
            result = .success(())
        } catch {
            result = .failure(error)
        }
        let waiters = renewalWaiters ?? []
        renewalWaiters = nil
        for waiter in waiters { waiter.resume(with: result) }
        try result.get()
    }

    /// Runs a call with the token, renewing it once and retrying when the service says it expired; a `426`
    /// becomes ``ConnectorError/updateRequired(detail:)``.
    package nonisolated func call<Result>(_ body: (String) async throws -> Result) async throws -> Result {
        let token = try await self.token()
        do {
            return try await body(token)
        } catch let error as AgentError where error.isTokenExpired {
            try await renew(replacing: token)
            return try await Self.mappingUpdate { try await body(await self.token()) }
        } catch let error as AgentError {
            throw ConnectorError.updateRequired(from: error) ?? error
        }
    }

    private static func mappingUpdate<Result>(_ body: () async throws -> Result) async throws -> Result {
        do {
            return try await body()
        } catch let error as AgentError {
            throw ConnectorError.updateRequired(from: error) ?? error
        }
    }
}
