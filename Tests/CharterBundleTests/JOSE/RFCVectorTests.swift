import Crypto
import Foundation
import Testing

@testable import CharterBundle

/// The published test vectors of the RFCs that Charter's JOSE profile builds on.
@Suite("RFC appendix vectors")
struct RFCVectorTests {
    // RFC 8037 Appendix A.1 / A.2: the Ed25519 key.
    static let ed25519D = "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A"
    static let ed25519X = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"

    // RFC 7638 §3.1: the RSA key whose thumbprint the RFC gives.
    static let rsaN =
        "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"

    struct ThumbprintVector: Sendable, CustomTestStringConvertible {
        let source: String
        let members: [String: String]
        let thumbprint: String
        var testDescription: String { source }
    }

    @Test(
        "RFC 7638 thumbprints: SHA-256 over the required members, sorted, without whitespace",
        arguments: [
            ThumbprintVector(
                source: "RFC 7638 §3.1 (RSA)",
                members: ["e": "AQAB", "kty": "RSA", "n": rsaN],
                thumbprint: "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
            ),
            ThumbprintVector(
                source: "RFC 8037 A.3 (Ed25519)",
                members: ["crv": "Ed25519", "kty": "OKP", "x": ed25519X],
                thumbprint: "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
            ),
        ]
    )
    func thumbprints(vector: ThumbprintVector) {
        #expect(JWKThumbprint.compute(requiredMembers: vector.members) == vector.thumbprint)
    }

    @Test("RFC 8037 A.2/A.3: the public JWK parses and its thumbprint is the published one")
    func ed25519JWK() throws {
        let jwk = try JWK(jsonData: Data(#"{"kty":"OKP","crv":"Ed25519","x":"\#(Self.ed25519X)"}"#.utf8))
        #expect(jwk.curve == .ed25519)
        #expect(jwk.thumbprint == "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k")
    }

    @Test("RFC 8037 A.1: the private key's public key is the published x")
    func ed25519PublicFromPrivate() throws {
        let d = try #require(Base64URL.decode(Self.ed25519D))
        let key = try Curve25519.Signing.PrivateKey(rawRepresentation: d)
        #expect(Base64URL.encode(key.publicKey.rawRepresentation) == Self.ed25519X)
    }

    static let rfc8037JWS =
        "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc.hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg"

    @Test("RFC 8037 A.4/A.5: the published JWS verifies with the published key (alg EdDSA)")
    func jwsVerifies() throws {
        let jws = try JWS(compactSerialization: Self.rfc8037JWS)
        #expect(jws.header.algorithm == .edDSA)
        #expect(String(decoding: jws.payload, as: UTF8.self) == "Example of Ed25519 signing")
        let key = try JWK(curve: .ed25519, x: #require(Base64URL.decode(Self.ed25519X)))
        try jws.verifySignature(with: key)
    }

    #if !canImport(Darwin)
        // BoringSSL's Ed25519 is deterministic (RFC 8032); CryptoKit on Apple platforms randomises signatures.
        @Test("RFC 8037 A.4: swift-crypto's Ed25519 reproduces the published signature")
        func jwsSignatureReproduced() throws {
            let key = try Curve25519.Signing.PrivateKey(rawRepresentation: #require(Base64URL.decode(Self.ed25519D)))
            let signingInput = Data("eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc".utf8)
            let signature = try key.signature(for: signingInput)
            #expect(Base64URL.encode(signature) == Self.rfc8037JWS.split(separator: ".")[2])
        }
    #endif

    @Test("RFC 8037 A.5: a changed payload does not verify")
    func jwsTampered() throws {
        let tampered = Self.rfc8037JWS.replacingOccurrences(of: ".RXhh", with: ".RXhi")
        let jws = try JWS(compactSerialization: tampered)
        let key = try JWK(curve: .ed25519, x: #require(Base64URL.decode(Self.ed25519X)))
        #expect(throws: JOSEError.invalidSignature) {
            try jws.verifySignature(with: key)
        }
    }

    @Test("RFC 8037 A.6: X25519 agreement through swift-crypto gives the published shared secret")
    func x25519() throws {
        let bobPublic = try #require(Base64URL.decode("3p7bfXt9wbTTW2HC7OQ1Nz-DQ8hbeGdNrfx-FG-IK08"))
        let ephemeralSecret = try #require(Base64URL.decode("dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LCo"))
        let ephemeral = try Curve25519.KeyAgreement.PrivateKey(rawRepresentation: ephemeralSecret)
        #expect(
            Base64URL.encode(ephemeral.publicKey.rawRepresentation) == "hSDwCYkwp1R0i33ctD73Wg2_Og0mOBr066SpjqqbTmo"
        )
        let shared = try ephemeral.sharedSecretFromKeyAgreement(
            with: Curve25519.KeyAgreement.PublicKey(rawRepresentation: bobPublic)
        )
        let hex = shared.withUnsafeBytes { $0.map { String(format: "%02x", $0) }.joined() }
        #expect(hex == "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742")
    }

    struct ConcatKDFVector: Sendable, CustomTestStringConvertible {
        let source: String
        let sharedSecret: [UInt8]
        let algorithmID: String
        let partyUInfo: String
        let partyVInfo: String
        let keyBitCount: Int
        let derived: String
        var testDescription: String { source }
    }

    @Test(
        "Concat KDF (RFC 7518 §4.6.2) reproduces RFC 7518 Appendix C",
        arguments: [
            ConcatKDFVector(
                source: "RFC 7518 C (ECDH-ES, A128GCM, apu Alice, apv Bob)",
                sharedSecret: [
                    158, 86, 217, 29, 129, 113, 53, 211, 114, 131, 66, 131, 191, 132, 38, 156, 251, 49, 110, 163, 218,
                    128, 106, 72, 246, 218, 167, 121, 140, 254, 144, 196,
                ],
                algorithmID: "A128GCM",
                partyUInfo: "Alice",
                partyVInfo: "Bob",
                keyBitCount: 128,
                derived: "VqqN6vgjbSBcIijNcacQGg"
            )
        ]
    )
    func concatKDF(vector: ConcatKDFVector) {
        let key = ConcatKDF.deriveKey(
            sharedSecret: vector.sharedSecret,
            algorithmID: vector.algorithmID,
            partyUInfo: Data(vector.partyUInfo.utf8),
            partyVInfo: Data(vector.partyVInfo.utf8),
            keyBitCount: vector.keyBitCount
        )
        #expect(key.withUnsafeBytes { Base64URL.encode(Data($0)) } == vector.derived)
    }

    struct KeyWrapVector: Sendable, CustomTestStringConvertible {
        let section: String
        let keyEncryptionKey: String
        let keyData: String
        let wrapped: String
        var testDescription: String { "RFC 3394 §\(section)" }
    }

    static let kek256 = "000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F"

    @Test(
        "AES key wrap through swift-crypto reproduces RFC 3394 §4",
        arguments: [
            KeyWrapVector(
                section: "4.1",
                keyEncryptionKey: String(kek256.prefix(32)),
                keyData: "00112233445566778899AABBCCDDEEFF",
                wrapped: "1FA68B0A8112B447AEF34BD8FB5A7B829D3E862371D2CFE5"
            ),
            KeyWrapVector(
                section: "4.2",
                keyEncryptionKey: String(kek256.prefix(48)),
                keyData: "00112233445566778899AABBCCDDEEFF",
                wrapped: "96778B25AE6CA435F92B5B97C050AED2468AB8A17AD84E5D"
            ),
            KeyWrapVector(
                section: "4.3",
                keyEncryptionKey: kek256,
                keyData: "00112233445566778899AABBCCDDEEFF",
                wrapped: "64E8C3F9CE0F5BA263E9777905818A2A93C8191E7D6E8AE7"
            ),
            KeyWrapVector(
                section: "4.4",
                keyEncryptionKey: String(kek256.prefix(48)),
                keyData: "00112233445566778899AABBCCDDEEFF0001020304050607",
                wrapped: "031D33264E15D33268F24EC260743EDCE1C6C7DDEE725A936BA814915C6762D2"
            ),
            KeyWrapVector(
                section: "4.5",
                keyEncryptionKey: kek256,
                keyData: "00112233445566778899AABBCCDDEEFF0001020304050607",
                wrapped: "A8F9BC1612C68B3FF6E6F4FBE30E71E4769C8B80A32CB8958CD5D17D6B254DA1"
            ),
            KeyWrapVector(
                section: "4.6",
                keyEncryptionKey: kek256,
                keyData: "00112233445566778899AABBCCDDEEFF000102030405060708090A0B0C0D0E0F",
                wrapped: "28C9F404C4B810F4CBCCB35CFB87F8263F5786E2D80ED326CBC7F0E71A99F43BFB988B9B7A02DD21"
            ),
        ]
    )
    func keyWrap(vector: KeyWrapVector) throws {
        let kek = SymmetricKey(data: try #require(Data(hex: vector.keyEncryptionKey)))
        let keyData = SymmetricKey(data: try #require(Data(hex: vector.keyData)))
        let wrapped = try AES.KeyWrap.wrap(keyData, using: kek)
        #expect(wrapped == Data(hex: vector.wrapped))
        let unwrapped = try AES.KeyWrap.unwrap(wrapped, using: kek)
        #expect(unwrapped == keyData)
    }
}

extension Data {
    /// Decodes hexadecimal text (tests only).
    init?(hex: String) {
        var bytes: [UInt8] = []
        var index = hex.startIndex
        while index < hex.endIndex {
            let next = hex.index(index, offsetBy: 2, limitedBy: hex.endIndex) ?? hex.endIndex
            guard let byte = UInt8(hex[index..<next], radix: 16) else {
                return nil
            }
            bytes.append(byte)
            index = next
        }
        self.init(bytes)
    }
}
