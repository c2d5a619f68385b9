// Bundle cost measurement, single-threaded, so the figures are per core, next to the raw primitives a
// bundle is made of:
// - a typical endpoint's bundle made the way the service makes it, minus the database: resolve the computer
//   and its 2 users against 20 subsettings over a 500-group directory, encode the effective settings once
//   each, sign and encrypt;
// - issue (sign + encrypt) and verify of a large bundle with 50 users and 6 documents.
//
// Run: cd Benchmarks && swift build -c release --product bundle-bench && .build/release/bundle-bench

import CharterBundle
import CharterCore
import Crypto
import Foundation

func settings(mode: String) -> JSONValue {
    [
        "run_as_admin": [
            "authorization": .string(mode), "offline_pin_overrides_denial": true, "reason_min_length": 10,
        ],
        "admin_session": ["authorization": "approval_required", "duration_minutes": 30],
        "approval": ["notify": ["helpdesk@acme.example", "it-admins@acme.example"], "pending_expiry_minutes": 240],
        "pre_approved": .array(
            (0..<12).map { index in
                [
                    "name": .string("tool\(index).exe"), "kind": "application", "protection": "checksum",
                    "sha256": .string(String(repeating: "0123456789abcdef", count: 4)), "scope": ["run_as_admin"],
                    "log": true,
                ]
            }
        ),
        "endpoint": ["offline_grace_hours": 72, "poll_seconds": 300, "push": true],
    ]
}

let tenantKey = Curve25519.Signing.PrivateKey()
let deviceKey = Curve25519.KeyAgreement.PrivateKey()
let now = Date()
let users = (0..<50).map { index in
    BundlePolicy.User(
        sid: "S-1-5-21-1004336348-1177238915-682003330-\(10_000 + index)",
        guid: UUID().uuidString.lowercased(),
        upn: "firstname.lastname\(index)@acme-corporation.example",
        document: ["standard", "developers", "finance", "admins"][index % 4]
    )
}
let claims = BundleClaims(
    issuer: "https://charter.example/tenants/5b0f1c2e-8d4a-4c3e-9a61-2f7d0b9e4c11",
    deviceID: "3f9a2b7c-1d4e-4f60-8a2b-9c0d1e2f3a4b",
    tenant: "5b0f1c2e-8d4a-4c3e-9a61-2f7d0b9e4c11",
    version: 42,
    issuedAt: now,
    notBefore: now - 60,
    expiresAt: now + 30 * 86_400,
    refreshAfter: now + 3_600,
    policy: BundlePolicy(
        documents: [
            "computer": settings(mode: "audit_only"),
            "default": settings(mode: "disabled"),
            "standard": settings(mode: "reason_required"),
            "developers": settings(mode: "audit_only"),
            "finance": settings(mode: "approval_required"),
            "admins": settings(mode: "audit_only"),
        ],
        computer: "computer",
        defaultUser: "default",
        users: users
    ),
    pin: OfflinePIN.generate(),
    signingKeys: [
        BundleSigningKey(key: JWK(tenantKey.publicKey), status: .active),
        BundleSigningKey(key: JWK(Curve25519.Signing.PrivateKey().publicKey), status: .next, notBefore: now + 86_400),
    ]
)
// The same claims with the documents encoded once (`BundlePolicy.EncodedDocument`), as a service re-issuing
// many bundles with the same documents can hold them.
var encodedClaims = claims
encodedClaims.policy = BundlePolicy(
    encodedDocuments: claims.policy.documents.mapValues { BundlePolicy.EncodedDocument($0) },
    computer: claims.policy.computer,
    defaultUser: claims.policy.defaultUser,
    users: claims.policy.users
)
let issuer = BundleIssuer(signingKey: tenantKey)
let deviceJWK = JWK(deviceKey.publicKey)
let verifier = BundleVerifier(
    deviceID: claims.deviceID,
    deviceKey: deviceKey,
    enrollmentKeys: JWKSet(keys: [JWK(tenantKey.publicKey)])
)

// A typical endpoint: a computer with 2 users in a tenant of 500 groups (each user in 3, each computer in 1,
// one level of nesting), 20 OUs and 20 subsettings; global settings pre-approve 12 applications by checksum.
var directory = MembershipGraph()
let groups = (0..<500).map { _ in ObjectGUID(UUID()) }
let ous = (0..<20).map { _ in ObjectGUID(UUID()) }
for (index, group) in groups.enumerated() {
    directory.members[group] = index >= 50 ? [] : [groups[50 + index]]
}
func directoryObject(memberOf count: Int, seed: Int, in directory: inout MembershipGraph) -> ObjectGUID {
    let object = ObjectGUID(UUID())
    for step in 0..<count { directory.members[groups[(seed * 7 + step * 131) % groups.count]]!.insert(object) }
    directory.parents[object] = ous[seed % ous.count]
    directory.primaryGroups[object] = groups[0]
    return object
}
let typicalComputer = directoryObject(memberOf: 1, seed: 3, in: &directory)
let typicalUsers = [11, 12].map { directoryObject(memberOf: 3, seed: $0, in: &directory) }
let facts = DirectoryFacts(graph: directory)
let sha256 = String(repeating: "0123456789abcdef", count: 4)
let global = Settings(
    preApprovedApplications: (0..<12).map { index in
        Settings.PreApprovedApplication(fileName: "tool\(index).exe", protection: .checksum(sha256: sha256))
    }
)
let subsettings = (0..<20).map { number in
    Subsetting(
        id: SubsettingID(UUID()),
        name: "subsetting \(number)",
        target: number % 4 == 0 ? .computer : .user,
        scope: number % 5 == 0
            ? .init(organizationalUnits: [ous[number]]) : .init(groups: [groups[(number * 37) % groups.count]]),
        overrides: .init(
            runAsAdmin: .init(mode: AuthorizationMode.allCases[number % AuthorizationMode.allCases.count]),
            preApprovedApplications: number % 3 == 0
                ? [.init(fileName: "setup\(number).exe", kind: .installer, protection: .checksum(sha256: sha256))] : nil
        )
    )
}
let typicalIdentities = typicalUsers.enumerated().map { index, guid in
    (sid: "S-1-5-21-1004336348-1177238915-682003330-\(20_000 + index)", guid: guid, upn: "user\(index)@acme.example")
}
let typicalPIN = OfflinePIN.generate()
// What the service keeps per tenant while its policy stands (`TenantPolicyCache`): the resolver, and each
// effective policy's document encoded once.
let cachedResolver = PolicyResolver(global: global, subsettings: subsettings)
let cachedDocuments = Dictionary(
    ([nil] + typicalUsers).map { user in cachedResolver.resolve(for: user, on: typicalComputer, in: facts) }
        .map { ($0.source, BundlePolicy.EncodedDocument($0.settings.json)) },
    uniquingKeysWith: { first, _ in first }
)

/// One typical endpoint's claims from resolution on, as `BundleService` makes them: with the tenant's
/// policy cached (`cached`), or with the resolver built and every document encoded for this bundle alone.
func typicalClaims(cached: Bool = false) throws -> BundleClaims {
    let resolver = cached ? cachedResolver : PolicyResolver(global: global, subsettings: subsettings)
    var documents = BundlePolicy.DocumentTable()
    func document(_ policy: EffectivePolicy) -> String {
        if cached, let document = cachedDocuments[policy.source] { return documents.add(document) }
        return documents.add(BundlePolicy.EncodedDocument(policy.settings.json))
    }
    let computerDocument = document(resolver.resolve(for: nil, on: typicalComputer, in: facts))
    let users = typicalIdentities.map { user in
        BundlePolicy.User(
            sid: user.sid, guid: user.guid.description, upn: user.upn,
            document: document(resolver.resolve(for: user.guid, on: typicalComputer, in: facts))
        )
    }
    var typical = claims
    typical.policy = BundlePolicy(
        encodedDocuments: documents.byID, computer: computerDocument, defaultUser: computerDocument, users: users
    )
    typical.pin = typicalPIN
    return typical
}

/// Runs `body` repeatedly for about `seconds` and returns operations per second (median of 3 rounds).
func measure(_ seconds: Double = 2, _ body: () throws -> Void) rethrows -> Double {
    var rates: [Double] = []
    for _ in 0..<3 {
        let clock = ContinuousClock()
        let start = clock.now
        var count = 0
        while clock.now - start < .milliseconds(Int(seconds * 1000)) {
            for _ in 0..<20 {
                try body()
            }
            count += 20
        }
        let elapsed = clock.now - start
        let secondsElapsed = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        rates.append(Double(count) / secondsElapsed)
    }
    return rates.sorted()[1]
}

let bundle = try issuer.issue(claims, to: deviceJWK)
let payload = try JSONEncoder().encode(claims)
let typicalBundle = try issuer.issue(try typicalClaims(), to: deviceJWK)
let typicalPayload = try JSONEncoder().encode(try typicalClaims())
let peer = Curve25519.KeyAgreement.PrivateKey().publicKey

// `bundle-bench <issue|verify|sign|agree> <count>` runs one operation `count` times without timing, for
// instruction counts under `valgrind --tool=callgrind` (stable when the machine is shared).
let arguments = CommandLine.arguments
if arguments.count == 3, let count = Int(arguments[2]) {
    for _ in 0..<count {
        switch arguments[1] {
        case "typical": _ = try issuer.issue(try typicalClaims(), to: deviceJWK)
        case "typical-cached": _ = try issuer.issue(try typicalClaims(cached: true), to: deviceJWK)
        case "issue": _ = try issuer.issue(claims, to: deviceJWK)
        case "issue-encoded": _ = try issuer.issue(encodedClaims, to: deviceJWK)
        case "verify": _ = try verifier.verify(bundle, now: now)
        case "sign": _ = try tenantKey.signature(for: payload)
        case "typical-sign": _ = try tenantKey.signature(for: typicalPayload)
        case "agree": _ = try deviceKey.sharedSecretFromKeyAgreement(with: peer)
        default: fatalError("usage: bundle-bench [typical|typical-cached|issue|issue-encoded|verify|sign|typical-sign|agree count]")
        }
    }
    exit(0)
}

let typicalRate = try measure { _ = try issuer.issue(try typicalClaims(), to: deviceJWK) }
let typicalCachedRate = try measure { _ = try issuer.issue(try typicalClaims(cached: true), to: deviceJWK) }
let typicalSignRate = try measure { _ = try tenantKey.signature(for: typicalPayload) }
let issueRate = try measure { _ = try issuer.issue(claims, to: deviceJWK) }
let encodedIssueRate = try measure { _ = try issuer.issue(encodedClaims, to: deviceJWK) }
let verifyRate = try measure { _ = try verifier.verify(bundle, now: now) }
let signRate = try measure { _ = try tenantKey.signature(for: payload) }
let agreeRate = try measure { _ = try deviceKey.sharedSecretFromKeyAgreement(with: peer) }
let primitivesRate = 1 / (1 / signRate + 1 / agreeRate)
let typicalPrimitivesRate = 1 / (1 / typicalSignRate + 1 / agreeRate)

func row(_ name: String, _ rate: Double) -> String {
    "| \(name) | \(String(format: "%.0f", rate)) | \(String(format: "%.1f", 1_000_000 / rate)) µs |"
}

print("typical bundle: \(typicalBundle.utf8.count) bytes compact JWE; claims JSON \(typicalPayload.count) bytes; 2 users")
print("large bundle: \(bundle.utf8.count) bytes compact JWE; claims JSON \(payload.count) bytes; 50 users, 6 documents")
print("| operation (one core) | per second | each |")
print("| --- | ---: | ---: |")
print(row("typical: resolve computer + 2 users, encode, sign, encrypt", typicalRate))
print(row("typical, tenant policy cached: resolve, sign, encrypt", typicalCachedRate))
print(row("typical: raw Ed25519 signature over its claims", typicalSignRate))
print(row("typical: one raw signature + one raw X25519 agreement", typicalPrimitivesRate))
print(row("large: issue (encode + Ed25519 sign + X25519 ECDH-ES+A256KW + AES-256-GCM)", issueRate))
print(row("large: issue, documents pre-encoded (BundlePolicy.EncodedDocument)", encodedIssueRate))
print(row("large: verify on the agent (decrypt + verify + decode + checks)", verifyRate))
print(row("large: raw Ed25519 signature over its claims", signRate))
print(row("raw X25519 agreement", agreeRate))
print(row("large: one raw signature + one raw X25519 agreement", primitivesRate))
