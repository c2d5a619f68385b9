import CharterCore
import CharterServices
import CharterStore
import CharterTestSupport
import Foundation
import PostgresNIO
import Testing

@Suite("Bootstrap API key")
struct BootstrapAPIKeyTests {
    /// A key as `charter apikey create` prints them: `chtr_` + 32 hex digits + `_` + 43 base64url characters.
    static func newKey() -> (token: String, id: String) {
        let id = UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased()
        let secret = Data((0..<32).map { _ in UInt8.random(in: 0...255) }).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
        return ("chtr_\(id)_\(secret)", id)
    }

    @Test("a well-formed key parses to its id", arguments: 0..<20)
    func parses(_: Int) throws {
        let (token, id) = Self.newKey()
        let key = try BootstrapAPIKey(parsing: token + "\n")
        #expect(key.keyID.description.replacingOccurrences(of: "-", with: "") == id)
        #expect(key.secretHash.count == 32)
    }

    @Test("malformed keys are refused with one line that does not repeat them", arguments: [
        "", "chtr_", "chtr_nope",
        "ctr_0123456789abcdef0123456789abcdef_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "chtr_0123456789abcdef0123456789abcdeg_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "chtr_0123456789abcdef0123456789abcdef-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "chtr_0123456789abcdef0123456789abcdef_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "chtr_0123456789abcdef0123456789abcdef_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA+",
        // 43 characters but not exactly 256 bits: the last one's low bits are set.
        "chtr_0123456789abcdef0123456789abcdef_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAB",
    ])
    func refuses(_ token: String) {
        do {
            _ = try BootstrapAPIKey(parsing: token)
            Issue.record("accepted \(token)")
        } catch {
            #expect(!error.description.contains("\n"))
            #expect(token.count < 6 || !error.description.contains(token))
        }
    }

    @Test("the first run creates an MSP whose owner holds exactly the key; later runs change nothing")
    func createsOnce() async throws {
        try await TestDatabase.migrate()
        let (token, _) = Self.newKey()
        let key = try BootstrapAPIKey(parsing: token)
        let name = "Bootstrap \(UUID())"
        try await TestDatabase.with(TestDatabase.ownerURL) { database in
            let actor = AuditRecord.Actor(id: nil, name: "bootstrap")
            let first = try await database.ensureBootstrapKey(key, mspName: name, actor: actor, logger: TestDatabase.logger)
            guard case .created(let msp) = first else {
                Issue.record("expected a new MSP, got \(first)")
                return
            }
            let again = try await database.ensureBootstrapKey(key, mspName: name, actor: actor, logger: TestDatabase.logger)
            #expect(again == .existed)

            try await database.withMSP(msp, logger: TestDatabase.logger) { tx in
                #expect(try await tx.msps.get(msp).name == name)
                let credential = try #require(try await tx.apiKeys.credential(for: key.keyID))
                #expect(credential.secretHash == key.secretHash)
                #expect(credential.principal.grants == [Grant(role: .owner, scope: .msp(msp))])
                let count = try await tx.query("SELECT count(*)::int FROM msps WHERE name = \(name)")
                for try await n in count.decode(Int.self) { #expect(n == 1) }
                let events = try await tx.query(
                    "SELECT count(*)::int FROM msp_audit_events WHERE msp_id = \(msp.rawValue)"
                )
                for try await n in events.decode(Int.self) { #expect(n == 2) }
            }
        }
    }

    @Test("replicas migrating at once create the MSP once")
    func concurrentReplicas() async throws {
        try await TestDatabase.migrate()
        let (token, _) = Self.newKey()
        let key = try BootstrapAPIKey(parsing: token)
        let name = "Bootstrap race \(UUID())"
        let outcomes = try await withThrowingTaskGroup(of: BootstrapKeyOutcome.self) { group in
            for _ in 0..<4 {
                group.addTask {
                    try await TestDatabase.with(TestDatabase.ownerURL) { database in
                        try await database.ensureBootstrapKey(
                            key, mspName: name, actor: .init(id: nil, name: "bootstrap"), logger: TestDatabase.logger
                        )
                    }
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(outcomes.filter { $0 == .existed }.count == 3)
        try await TestDatabase.acrossTenants { tx in
            // Every MSP the bootstrap makes has one owner principal named after it.
            let count = try await tx.query("SELECT count(*)::int FROM principals WHERE name = \(name + " owner")")
            for try await n in count.decode(Int.self) { #expect(n == 1) }
        }
    }
}
