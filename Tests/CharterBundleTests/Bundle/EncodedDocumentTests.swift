import CharterBundle
import Foundation
import Testing

@Suite("Pre-encoded policy documents")
struct EncodedDocumentTests {
    let fixture = BundleFixture()

    func encodedPolicy(_ policy: BundlePolicy) -> BundlePolicy {
        BundlePolicy(
            encodedDocuments: policy.documents.mapValues { BundlePolicy.EncodedDocument($0) },
            computer: policy.computer,
            defaultUser: policy.defaultUser,
            users: policy.users
        )
    }

    @Test("a policy made from encoded documents equals, encodes and verifies like one made from values")
    func sameAsValues() throws {
        var claims = fixture.claims(userCount: 5)
        let encoded = encodedPolicy(claims.policy)
        #expect(encoded == claims.policy)
        #expect(encoded.hashValue == claims.policy.hashValue)
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        #expect(try encoder.encode(encoded) == encoder.encode(claims.policy))
        claims.policy = encoded
        let verified = try fixture.verifier.verify(try fixture.bundle(claims), now: fixture.now)
        #expect(verified.claims == claims)
        #expect(verified.claims.policy.documents == encoded.documents)
    }

    @Test("canonical text from elsewhere is taken as it is, once checked")
    func fromCanonicalText() throws {
        let settings = BundleFixture.settings(mode: "audit_only")
        let document = try BundlePolicy.EncodedDocument(canonicalData: settings.canonicalData)
        #expect(document.value == settings)
        #expect(document.canonicalData == settings.canonicalData)
    }

    @Test(
        "text that is not exactly canonical JSON is refused, so a bundle never signs anything else",
        arguments: [
            #"{"b":1,"a":2}"#, #"{"a": 1}"#, " {}", #"{"a":1.0}"#, #"{"a":"\/"}"#, #"{"a":"\u0041"}"#, #"{"a":1e2}"#,
            #"{"a":-0}"#, #"{"a":1,"a":1}"#, "{", "",
        ]
    )
    func refusesNonCanonical(text: String) {
        #expect(throws: JOSEError.invalidJSON(part: "document")) {
            try BundlePolicy.EncodedDocument(canonicalData: Data(text.utf8))
        }
    }

    @Test("changing the documents of an encoded policy drops the encoded text; the bundle carries the change")
    func mutationDropsEncoding() throws {
        var claims = fixture.claims()
        claims.policy = encodedPolicy(claims.policy)
        claims.policy.documents[claims.policy.computer] = ["changed": true]
        let verified = try fixture.verifier.verify(try fixture.bundle(claims), now: fixture.now)
        #expect(verified.claims.policy.computerSettings == ["changed": true])
    }
}
