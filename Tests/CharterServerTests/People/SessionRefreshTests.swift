import CharterBundle
import CharterCore
import CharterServer
import CharterServices
import CharterStore
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import PostgresNIO
import Testing

/// Sessions refreshed at the test provider (glewlwyd): a person's groups are asked for again with the session's
/// refresh token when its refresh is due and when a personal token is taken (docs/identity.md, "Refreshing
/// sessions"). Each test adds a provider user of its own, since it changes the user's groups or disables them.
@Suite("Session refresh at the identity provider", .serialized)
struct SessionRefreshTests {
    /// A provider user of this test only, in `groups`.
    static func newUser(groups: [String]) async throws -> String {
        let user = "refresh-\(UUID().uuidString.prefix(8).lowercased())"
        try await Provider.configured().addUser(user, email: "\(user)@msp.test", groups: groups)
        return user
    }

    static func signIn(_ client: some TestClientProtocol, _ setup: SignInFlowTests.Setup, as user: String)
        async throws -> (cookie: String, csrf: String)
    {
        switch try await SignInFlowTests.signIn(client, setup, as: user) {
        case .success(let session): return session
        case .failure(let refused): throw refused
        }
    }

    /// Makes the refresh of every session of `msp` due now (instead of waiting `session.refresh_interval_seconds`).
    static func makeRefreshDue(_ msp: MSPID) async throws {
        try await TestApp.withOwner { database in
            try await database.withMSP(msp, logger: TestApp.logger) { tx in
                try await tx.query(
                    """
                    UPDATE sessions SET refresh_due_at = now() - interval '1 second'
                    WHERE msp_id = \(msp.rawValue) AND refresh_due_at IS NOT NULL
                    """
                )
            }
        }
    }

    /// The browser sessions of `msp`: whether each keeps a sealed refresh token, and when its refresh is due.
    static func refreshState(_ msp: MSPID) async throws -> [(sealed: String?, dueAt: Date?)] {
        try await TestApp.withOwner { database in
            try await database.withMSP(msp, logger: TestApp.logger) { tx in
                let rows = try await tx.query(
                    """
                    SELECT refresh_token_sealed, refresh_due_at FROM sessions
                    WHERE msp_id = \(msp.rawValue) AND kind = 'browser' ORDER BY created_at
                    """
                )
                var found: [(sealed: String?, dueAt: Date?)] = []
                for try await row in rows.decode((String?, Date?).self) { found.append((row.0, row.1)) }
                return found
            }
        }
    }

    static func mspEvents(_ msp: MSPID) async throws -> [AuditEvent] {
        try await TestApp.withOwner { database in
            try await database.withMSP(msp, logger: TestApp.logger) { tx in
                try await tx.audit.list(.msp(msp), before: nil, limit: 200)
            }
        }
    }

    static func takeToken(_ client: some TestClientProtocol, _ session: (cookie: String, csrf: String)) async throws
        -> Answer
    {
        var headers: HTTPFields = [.cookie: session.cookie]
        headers[HTTPField.Name("X-CSRF-Token")!] = session.csrf
        return try await client.call(.post, "/v1/auth/tokens", headers: headers)
    }

    @Test("a group removed at the provider: the open session keeps its role until its refresh is due, then loses it")
    func groupRemoved() async throws {
        let setup = try await SignInFlowTests.prepare()
        let msp = setup.world.msp
        let tenant = setup.world.tenants[0]
        let user = try await Self.newUser(groups: ["charter-admins", "tenant-a-approvers"])
        try await SignInFlowTests.run(setup) { client in
            let mapping = #"{"claim_value":"tenant-a-approvers","role":"approver","tenant_id":"\#(tenant)"}"#
            let created = try await client.call(.post, "/v1/msps/\(msp)/role-mappings", key: setup.world.mspKey, body: mapping)
            #expect(created.status == .created, "\(created.json)")
            let session = try await Self.signIn(client, setup, as: user)
            // The sign-in kept the provider's refresh token, sealed, never in an answer.
            let state = try #require(try await Self.refreshState(msp).first)
            let sealed = try #require(state.sealed)
            #expect(SealedSecret(sealed) != nil)
            let due = try #require(state.dueAt)
            #expect(abs(due.timeIntervalSinceNow - 900) < 120)
            let listed = try await client.call(.get, "/v1/me/sessions", headers: [.cookie: session.cookie])
            #expect(listed.status == .ok && !"\(listed.json)".contains("refresh"))
            #expect(try await client.call(.get, "/v1/msps/\(msp)/tenants", headers: [.cookie: session.cookie]).status == .ok)

            try await Provider.configured().setGroups(["tenant-a-approvers"], of: user)
            // Not due yet: the groups of the sign-in still hold.
            #expect(try await client.call(.get, "/v1/msps/\(msp)/tenants", headers: [.cookie: session.cookie]).status == .ok)
            try await Self.makeRefreshDue(msp)
            // The request that finds it due refreshes first: the MSP-wide role is gone, the tenant one remains.
            expectProblem(try await client.call(.get, "/v1/msps/\(msp)/tenants", headers: [.cookie: session.cookie]), 403)
            #expect(try await client.call(.get, "/v1/tenants/\(tenant)/requests", headers: [.cookie: session.cookie]).status == .ok)
            let whoami = try await client.call(.get, "/v1/whoami", headers: [.cookie: session.cookie])
            let grants = try #require(whoami.json["grants"] as? [[String: Any]])
            #expect(grants.count == 1 && grants.first?["role"] as? String == "approver")
            // Confirmed: the next refresh is one interval away again.
            let after = try #require(try await Self.refreshState(msp).first?.dueAt)
            #expect(after.timeIntervalSinceNow > 800)
            let refreshed = try await Self.mspEvents(msp).filter { $0.record.action == "person.refreshed" }
            #expect(refreshed.count == 1)
            #expect(refreshed.first?.record.after?.contains("tenant-a-approvers") == true)
            #expect(refreshed.first?.record.before?.contains("charter-admins") == true)
        }
    }

    @Test("taking a token refreshes the session: the person's only group removed ends the session and its tokens")
    func tokenRefreshes() async throws {
        let setup = try await SignInFlowTests.prepare()
        let msp = setup.world.msp
        let user = try await Self.newUser(groups: ["charter-admins"])
        try await SignInFlowTests.run(setup) { client in
            let session = try await Self.signIn(client, setup, as: user)
            let first = try await Self.takeToken(client, session)
            #expect(first.status == .created, "\(first.json)")
            let token = try #require(first.json["token"] as? String)
            #expect(try await client.call(.get, "/v1/whoami", key: token).status == .ok)

            try await Provider.configured().setGroups(["somewhere-else"], of: user)
            // Not due, but a token is only taken on what the provider states now.
            let refused = try await Self.takeToken(client, session)
            expectProblem(refused, 401)
            #expect((refused.json["detail"] as? String)?.contains("identity provider") == true, "\(refused.json)")
            // The session ended, and the token taken from it with it.
            expectProblem(try await client.call(.get, "/v1/whoami", headers: [.cookie: session.cookie]), 401)
            expectProblem(try await client.call(.get, "/v1/whoami", key: token), 401)
            #expect(try await Self.refreshState(msp).allSatisfy { $0.sealed == nil })
            let ended = try await Self.mspEvents(msp).filter { $0.record.action == "session.refresh_refused" }
            #expect(ended.count == 1)
            #expect(ended.first?.record.after?.contains("no role is left") == true)
            #expect(ended.first?.record.actor.person?.email == "\(user)@msp.test")
        }
    }

    @Test("a person disabled at the provider: the session ends at its next refresh, audited; nothing else of theirs")
    func disabled() async throws {
        let setup = try await SignInFlowTests.prepare()
        let msp = setup.world.msp
        let user = try await Self.newUser(groups: ["charter-admins"])
        try await SignInFlowTests.run(setup) { client in
            let session = try await Self.signIn(client, setup, as: user)
            let alice = try await Self.signIn(client, setup, as: "alice")
            #expect(try await client.call(.get, "/v1/whoami", headers: [.cookie: session.cookie]).status == .ok)
            try await Provider.configured().disableUser(user)
            try await Self.makeRefreshDue(msp)
            let refused = try await client.call(.get, "/v1/whoami", headers: [.cookie: session.cookie])
            expectProblem(refused, 401)
            expectProblem(try await client.call(.get, "/v1/whoami", headers: [.cookie: session.cookie]), 401)
            // alice's session was due too: it refreshed and goes on.
            #expect(try await client.call(.get, "/v1/whoami", headers: [.cookie: alice.cookie]).status == .ok)
            let ended = try await Self.mspEvents(msp).filter { $0.record.action == "session.refresh_refused" }
            #expect(ended.count == 1)
            #expect(ended.first?.record.after?.contains("refused the refresh") == true, "\(ended.first?.record.after ?? "")")
            let sessions = try await client.call(.get, "/v1/msps/\(msp)/sessions", key: setup.world.mspKey)
            #expect((sessions.json["items"] as? [Any])?.count == 1)
        }
    }
}
