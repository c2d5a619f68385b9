import AsyncHTTPClient
import CharterBundle
import CharterCore
import CharterServer
import CharterServices
import CharterStore
import Foundation
import NIOCore
import NIOFoundationCompat
import NIOHTTP1
import Synchronization
import Testing

/// The relying party's way to the test provider for these tests: a real HTTP client to glewlwyd that can also
/// play a provider that is down, or a network or provider that alters what the provider answers.
final class ProviderRelay: OpenIDTransport {
    enum Mode: Sendable, Equatable {
        /// Everything goes to the provider and back unchanged.
        case pass
        /// Nothing reaches the provider (a connection error).
        case down
        /// The userinfo answer names another person (`sub`).
        case otherSubject
        /// A refresh answer carries the sign-in's ID token with its groups changed (so its signature breaks).
        case forgedIDToken
    }

    struct Down: Error {}

    let mode = Mutex(Mode.pass)
    /// The ID token of the last code exchange.
    let signInToken = Mutex<String?>(nil)
    /// How many refresh-token requests reached the token endpoint.
    let refreshes = Mutex(0)

    func get(_ url: String, bearer: String?) async throws -> OpenIDResponse {
        let mode = mode.withLock { $0 }
        guard mode != .down else { throw Down() }
        var request = HTTPClientRequest(url: url)
        request.headers.add(name: "Accept", value: "application/json")
        if let bearer { request.headers.add(name: "Authorization", value: "Bearer \(bearer)") }
        var response = try await send(request)
        if mode == .otherSubject, bearer != nil, var object = Self.object(response.body) {
            object["sub"] = "someone-else"
            response.body = try JSONSerialization.data(withJSONObject: object)
        }
        return response
    }

    func postForm(_ url: String, fields: [(String, String)], basic: (user: String, password: String)?) async throws
        -> OpenIDResponse
    {
        let mode = mode.withLock { $0 }
        guard mode != .down else { throw Down() }
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers.add(name: "Accept", value: "application/json")
        request.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
        if let basic {
            request.headers.add(
                name: "Authorization", value: "Basic \(Data("\(basic.user):\(basic.password)".utf8).base64EncodedString())"
            )
        }
        request.body = .bytes(ByteBuffer(string: FormEncoding.encode(fields)))
        var response = try await send(request)
        let grant = fields.first { $0.0 == "grant_type" }?.1
        if grant == "refresh_token" { refreshes.withLock { $0 += 1 } }
        if grant == "authorization_code", let token = Self.object(response.body)?["id_token"] as? String {
            signInToken.withLock { $0 = token }
        }
        if mode == .forgedIDToken, grant == "refresh_token", var object = Self.object(response.body),
            let token = signInToken.withLock({ $0 })
        {
            object["id_token"] = Self.withGroups(["charter-admins", "charter-owners"], in: token)
            response.body = try JSONSerialization.data(withJSONObject: object)
        }
        return response
    }

    private func send(_ request: HTTPClientRequest) async throws -> OpenIDResponse {
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(15))
        let body = try await response.body.collect(upTo: 1 << 20)
        return OpenIDResponse(status: Int(response.status.code), body: Data(buffer: body))
    }

    static func object(_ data: Data) -> [String: Any]? {
        (try? JSONSerialization.jsonObject(with: data)) as? [String: Any]
    }

    /// `token` with its payload's groups replaced, header and signature kept.
    static func withGroups(_ groups: [String], in token: String) -> String {
        let parts = token.split(separator: ".").map(String.init)
        guard parts.count == 3, let payload = Base64URL.decode(parts[1]), var claims = object(payload) else { return token }
        claims["groups"] = groups
        let altered = Base64URL.encode(try! JSONSerialization.data(withJSONObject: claims))
        return [parts[0], altered, parts[2]].joined(separator: ".")
    }
}

/// A clock the tests move on, instead of waiting for refresh intervals.
final class TestClock: Sendable {
    let now = Mutex(Date())
    func advance(_ seconds: TimeInterval) { now.withLock { $0 += seconds } }
    var read: @Sendable () -> Date { { self.now.withLock { $0 } } }
}

/// Session refreshes through ``ProviderRelay``: the provider down, and answers altered on their way (docs/identity.md,
/// "Refreshing sessions"). The services are built as `buildApplication` builds them, with the relay as transport.
@Suite("Session refresh: provider down, answers altered", .serialized)
struct SessionRefreshRelayTests {
    struct Services: Sendable {
        var relay: ProviderRelay
        var clock: TestClock
        var signIn: SignInService
        var refresher: SessionRefreshService
        var database: Database
        var msp: MSPID
    }

    static func withServices(_ body: @Sendable (Services) async throws -> Void) async throws {
        let setup = try await SignInFlowTests.prepare()
        let sealer = try #require(try keyEncryptionKeys(setup.config))
        try await TestApp.withService { database in
            let relay = ProviderRelay()
            let clock = TestClock()
            let party = OpenIDRelyingParty(transport: relay, allowsInsecureLoopback: true, now: clock.read)
            let policy = SessionRefreshPolicy(intervalSeconds: 900)
            let refresher = SessionRefreshService(
                database: database, sealer: sealer, relyingParty: party, policy: policy, now: clock.read
            )
            let people = PeopleService(
                database: database, sealer: sealer, refreshPolicy: policy, refresher: refresher, now: clock.read
            )
            let signIn = SignInService(
                database: database, sealer: sealer, relyingParty: party, recorder: people,
                redirectURI: Provider.callback, now: clock.read
            )
            try await body(
                Services(
                    relay: relay, clock: clock, signIn: signIn, refresher: refresher, database: database,
                    msp: setup.world.msp
                )
            )
        }
    }

    /// Signs `user` in through the provider; the session opened.
    static func signIn(_ services: Services, as user: String) async throws -> SessionID {
        let started = try await services.signIn.start(msp: services.msp, returnTo: "/", logger: TestApp.logger)
        let back = try await Provider.signIn(at: started.authorizationURL, as: user)
        let query = URLComponents(string: back)?.queryItems ?? []
        let completed = try await services.signIn.complete(
            code: query.first { $0.name == "code" }?.value, state: query.first { $0.name == "state" }?.value,
            error: nil, browserSecret: started.browserSecret, client: ClientInfo(userAgent: "tests", ip: nil),
            logger: TestApp.logger
        )
        return completed.session.id
    }

    static func refresh(_ services: Services, _ id: SessionID) async throws -> SessionRefreshService.Outcome {
        try await services.refresher.refresh(id, in: services.msp, force: false, logger: TestApp.logger)
    }

    static func endings(_ msp: MSPID) async throws -> [String] {
        try await SessionRefreshTests.mspEvents(msp).filter { $0.record.action == "session.refresh_refused" }
            .compactMap(\.record.after)
    }

    @Test("a provider that cannot be reached: served on the groups last confirmed for one more interval, then 503, never ended")
    func providerDown() async throws {
        let user = try await SessionRefreshTests.newUser(groups: ["charter-admins"])
        try await Self.withServices { services in
            let id = try await Self.signIn(services, as: user)
            #expect(try await Self.refresh(services, id) == .kept(serving: true))  // not due
            services.relay.mode.withLock { $0 = .down }
            services.clock.advance(901)
            #expect(try await Self.refresh(services, id) == .kept(serving: true))
            // Retried at most once a minute: this request goes on without asking.
            services.clock.advance(30)
            #expect(try await Self.refresh(services, id) == .kept(serving: true))
            // Two intervals after the provider last vouched: kept, but not served.
            services.clock.advance(870)
            #expect(try await Self.refresh(services, id) == .kept(serving: false))
            #expect(try await Self.endings(services.msp).isEmpty)
            // The provider is back: the next attempt confirms the session.
            services.relay.mode.withLock { $0 = .pass }
            services.clock.advance(60)
            #expect(try await Self.refresh(services, id) == .renewed)
            services.clock.advance(60)
            #expect(try await Self.refresh(services, id) == .kept(serving: true))
        }
    }

    @Test("an altered answer ends the session: a userinfo answer naming another person, a forged ID token")
    func alteredAnswers() async throws {
        let user = try await SessionRefreshTests.newUser(groups: ["charter-admins"])
        try await Self.withServices { services in
            let first = try await Self.signIn(services, as: user)
            services.relay.mode.withLock { $0 = .otherSubject }
            services.clock.advance(901)
            #expect(try await Self.refresh(services, first) == .ended)
            #expect(try await Self.refresh(services, first) == .kept(serving: true))  // gone: nothing to refresh

            services.relay.mode.withLock { $0 = .pass }
            let second = try await Self.signIn(services, as: user)
            services.relay.mode.withLock { $0 = .forgedIDToken }
            services.clock.advance(901)
            #expect(try await Self.refresh(services, second) == .ended)

            let reasons = try await Self.endings(services.msp)
            #expect(reasons.count == 2, "\(reasons)")
            #expect(reasons.contains { $0.contains("names another person") }, "\(reasons)")
            #expect(reasons.contains { $0.contains("the signature does not verify") }, "\(reasons)")
        }
    }

    @Test("one refresh at a time: a session whose refresh is claimed is served on its groups without asking again; a claim left by a dead process runs out")
    func oneAtATime() async throws {
        let user = try await SessionRefreshTests.newUser(groups: ["charter-admins"])
        try await Self.withServices { services in
            let id = try await Self.signIn(services, as: user)
            services.clock.advance(901)
            // Another request (or a process that died since) holds the claim for two minutes.
            let now = services.clock.read()
            let held = try await services.database.withMSP(services.msp, logger: TestApp.logger) { tx in
                try await tx.sessions.claimRefresh(
                    id, msp: services.msp, now: now, until: now.addingTimeInterval(120), force: false
                )
            }
            guard case .claimed = held else {
                Issue.record("the due session was not claimed")
                return
            }
            #expect(try await Self.refresh(services, id) == .kept(serving: true))
            #expect(try await services.refresher.refresh(id, in: services.msp, force: true, logger: TestApp.logger)
                == .kept(serving: true))
            #expect(services.relay.refreshes.withLock { $0 } == 0)
            services.clock.advance(121)
            #expect(try await Self.refresh(services, id) == .renewed)
            #expect(services.relay.refreshes.withLock { $0 } == 1)
        }
    }
}
