import CharterBundle
import Crypto
import Foundation
import Testing

@Suite("Sealing secrets at rest")
struct SecretSealerTests {
    static let keyA = Data(repeating: 0xA1, count: 32)
    static let keyB = Data(repeating: 0xB2, count: 32)
    static let configuration = "k2:\(keyB.base64EncodedString()),k1:\(keyA.base64EncodedString())"
    static let context = "tenant/8c1e/ldap-bind-password"

    @Test("a sealed secret opens under the same context")
    func roundTrip() throws {
        let sealer = try SecretSealer(configuration: Self.configuration)
        let sealed = try sealer.seal("correct horse battery staple", context: Self.context)
        #expect(sealed.keyID.rawValue == "k2")
        #expect(sealed.description.hasPrefix("v1.k2."))
        #expect(try sealer.openString(sealed.description, context: Self.context) == "correct horse battery staple")
    }

    @Test("the first configured key is active and every key is held")
    func activeKey() throws {
        let sealer = try SecretSealer(
            configuration: "\n k2 : \(Self.keyB.base64EncodedString())\nk1:\(Self.keyA.base64EncodedString())\n"
        )
        #expect(sealer.activeKeyID.rawValue == "k2")
        #expect(sealer.keyIDs.map(\.rawValue) == ["k1", "k2"])
    }

    @Test("sealing twice gives different values (fresh nonce)")
    func freshNonce() throws {
        let sealer = try SecretSealer(configuration: Self.configuration)
        let first = try sealer.seal("x", context: Self.context)
        let second = try sealer.seal("x", context: Self.context)
        #expect(first != second)
    }

    @Test("an empty secret seals and opens")
    func emptySecret() throws {
        let sealer = try SecretSealer(configuration: Self.configuration)
        let sealed = try sealer.seal(Data(), context: Self.context)
        #expect(try sealer.open(sealed, context: Self.context).isEmpty)
    }

    @Test("a value sealed under another context does not open (cannot be moved to another row)")
    func contextBinding() throws {
        let sealer = try SecretSealer(configuration: Self.configuration)
        let sealed = try sealer.seal("secret", context: "tenant/A/ldap-bind-password")
        #expect(throws: SealingError.authenticationFailed) {
            try sealer.open(sealed, context: "tenant/B/ldap-bind-password")
        }
    }

    @Test("after a KEK rotation, values sealed under the old key still open and report that they need resealing")
    func rotation() throws {
        let old = try SecretSealer(configuration: "k1:\(Self.keyA.base64EncodedString())")
        let sealed = try old.seal("secret", context: Self.context)
        let rotated = try SecretSealer(configuration: Self.configuration)
        #expect(try rotated.openString(sealed.description, context: Self.context) == "secret")
        #expect(rotated.needsResealing(sealed))
        let resealed = try rotated.seal(try rotated.open(sealed, context: Self.context), context: Self.context)
        #expect(!rotated.needsResealing(resealed))
        #expect(resealed.keyID.rawValue == "k2")
    }

    @Test("a value sealed under a key that is no longer held fails with unknown key id")
    func unknownKeyID() throws {
        let sealer = try SecretSealer(configuration: Self.configuration)
        let sealed = try sealer.seal("secret", context: Self.context)
        let other = try SecretSealer(configuration: "k1:\(Self.keyA.base64EncodedString())")
        #expect(throws: SealingError.unknownKeyID("k2")) {
            try other.open(sealed, context: Self.context)
        }
    }

    @Test("a value whose key id was swapped for another held key does not open")
    func keyIDSwap() throws {
        let sealer = try SecretSealer(configuration: Self.configuration)
        let text = try sealer.seal("secret", context: Self.context).description
        let swapped = text.replacingOccurrences(of: "v1.k2.", with: "v1.k1.")
        #expect(throws: SealingError.authenticationFailed) {
            try sealer.open(swapped, context: Self.context)
        }
    }

    @Test("every single-bit change of the sealed bytes is detected")
    func tampering() throws {
        let sealer = try SecretSealer(configuration: Self.configuration)
        let sealed = try sealer.seal("secret", context: Self.context)
        let body = sealed.nonce + sealed.ciphertext + sealed.tag
        for index in body.indices {
            var tampered = body
            tampered[index] ^= 0x01
            let text = "v1.k2.\(Base64URL.encode(tampered))"
            #expect(throws: SealingError.authenticationFailed) {
                try sealer.open(text, context: Self.context)
            }
        }
    }

    @Test(
        "malformed keyring configurations are rejected with a precise error",
        arguments: [
            ("", SealingError.emptyKeyring),
            (" , \n", .emptyKeyring),
            ("k1", .malformedEntry(position: 1)),
            ("k1:\(keyA.base64EncodedString()),k2", .malformedEntry(position: 2)),
            ("k 1:\(keyA.base64EncodedString())", .invalidKeyID("k 1")),
            (":\(keyA.base64EncodedString())", .invalidKeyID("")),
            ("k1:not*base64", .invalidBase64(keyID: "k1")),
            ("k1:\(Data(count: 16).base64EncodedString())", .wrongKeyLength(keyID: "k1", byteCount: 16)),
            ("k1:\(keyA.base64EncodedString()),k1:\(keyB.base64EncodedString())", .duplicateKeyID("k1")),
        ]
    )
    func badConfiguration(configuration: String, expected: SealingError) {
        #expect(throws: expected) {
            try SecretSealer(configuration: configuration)
        }
    }

    @Test("the in-memory initialiser checks the active key id and key lengths")
    func inMemoryInit() throws {
        let k1 = try SecretSealer.KeyID(validating: "k1")
        let k2 = try SecretSealer.KeyID(validating: "k2")
        #expect(throws: SealingError.unknownActiveKeyID("k2")) {
            try SecretSealer(keys: [k1: SymmetricKey(data: Self.keyA)], activeKeyID: k2)
        }
        #expect(throws: SealingError.wrongKeyLength(keyID: "k1", byteCount: 16)) {
            try SecretSealer(keys: [k1: SymmetricKey(size: .bits128)], activeKeyID: k1)
        }
        #expect(throws: SealingError.emptyKeyring) {
            try SecretSealer(keys: [:], activeKeyID: k1)
        }
    }

    @Test(
        "malformed sealed values are rejected without trying to decrypt",
        arguments: [
            ("", SealingError.malformedSealedValue),
            ("v1.k1", .malformedSealedValue),
            ("v1.k1.AAAA.extra", .malformedSealedValue),
            ("v1.k1.AAAA", .malformedSealedValue),
            ("v1.k1.not base64", .malformedSealedValue),
            ("v2.k1.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", .unsupportedVersion("v2")),
            ("v1.k/1.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", .invalidKeyID("k/1")),
        ]
    )
    func malformedValues(text: String, expected: SealingError) throws {
        let sealer = try SecretSealer(configuration: Self.configuration)
        #expect(throws: expected) {
            try sealer.open(text, context: Self.context)
        }
    }

    @Test("error codes are stable strings and messages never contain key material")
    func errorCodes() {
        let error = SealingError.invalidBase64(keyID: "k1")
        #expect(error.code == "sealing.invalid_base64")
        #expect(SealingError.authenticationFailed.code == "sealing.authentication_failed")
        #expect(!SealingError.wrongKeyLength(keyID: "k1", byteCount: 16).description.contains("AAAA"))
    }

    @Test("the text form parses back to the same value")
    func textForm() throws {
        let sealer = try SecretSealer(configuration: Self.configuration)
        let sealed = try sealer.seal("secret", context: Self.context)
        #expect(SealedSecret(sealed.description) == sealed)
        #expect(SealedSecret("garbage") == nil)
        #expect(sealed.nonce.count == 12 && sealed.tag.count == 16)
    }
}
