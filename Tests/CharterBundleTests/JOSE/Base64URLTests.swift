import CharterBundle
import Foundation
import Testing

@Suite("base64url")
struct Base64URLTests {
    @Test(
        "encodes the RFC 4648 §10 vectors without padding, with the URL-safe alphabet",
        arguments: [
            ("", ""), ("f", "Zg"), ("fo", "Zm8"), ("foo", "Zm9v"), ("foob", "Zm9vYg"), ("fooba", "Zm9vYmE"),
            ("foobar", "Zm9vYmFy"),
        ]
    )
    func vectors(plain: String, encoded: String) {
        #expect(Base64URL.encode(Data(plain.utf8)) == encoded)
        #expect(Base64URL.decode(encoded) == Data(plain.utf8))
    }

    @Test("uses - and _ instead of + and /")
    func urlSafe() {
        #expect(Base64URL.encode(Data([0xFB, 0xFF, 0xBF])) == "-_-_")
        #expect(Base64URL.decode("-_-_") == Data([0xFB, 0xFF, 0xBF]))
    }

    @Test(
        "rejects padding, foreign characters, impossible lengths and non-canonical trailing bits",
        arguments: ["Zg==", "Zg=", "Zm9v+", "Zm9v/", "Zm 9v", "Z", "Zm9vY", "Zh", "Zm9=", "é"]
    )
    func rejects(text: String) {
        #expect(Base64URL.decode(text) == nil)
    }
}
