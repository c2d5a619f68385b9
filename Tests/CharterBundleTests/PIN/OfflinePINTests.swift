import CharterBundle
import Foundation
import Testing

@Suite("Offline PIN challenge and response")
struct OfflinePINTests {
    static let pin = try! OfflinePIN(secret: Data(0..<32))
    static let newYear2026 = Date(timeIntervalSince1970: 1_767_225_600)

    // Computed independently with Python:
    //   hmac.new(bytes(range(32)), b"charter-offline-pin/v1\nK7M2Q9XD\n1963584", hashlib.sha256)
    //   first 8 bytes big-endian % 10**8 -> 80182374
    @Test(
        "known-answer vectors (cross-checked with Python's hmac)",
        arguments: [
            ("K7M2-Q9XD", 1_767_225_600, "8018-2374"),
            ("k7m2 q9xd", 1_767_226_499, "8018-2374"),
            ("OOOO-OOOO", 1_767_225_600, "4246-9938"),
            ("ABCD-EFGH", 1_767_226_500, "0847-6285"),
        ]
    )
    func knownAnswers(challenge: String, time: Int, response: String) throws {
        #expect(try Self.pin.response(for: challenge, at: Date(timeIntervalSince1970: TimeInterval(time))) == response)
    }

    @Test("the response is accepted in the step it was made in and in the next one")
    func acceptedWindow() throws {
        let challenge = Self.pin.makeChallenge()
        let response = try Self.pin.response(for: challenge, at: Self.newYear2026)
        #expect(Self.pin.verify(response, for: challenge, at: Self.newYear2026) == .accepted)
        #expect(Self.pin.verify(response, for: challenge, at: Self.newYear2026 + 899) == .accepted)
        #expect(Self.pin.verify(response, for: challenge, at: Self.newYear2026 + 1799) == .accepted)
    }

    @Test("after two steps the response is reported expired, much later as a mismatch")
    func expiry() throws {
        let challenge = Self.pin.makeChallenge()
        let response = try Self.pin.response(for: challenge, at: Self.newYear2026)
        #expect(Self.pin.verify(response, for: challenge, at: Self.newYear2026 + 1800) == .rejected(.expired))
        #expect(Self.pin.verify(response, for: challenge, at: Self.newYear2026 + 900 * 5) == .rejected(.expired))
        #expect(Self.pin.verify(response, for: challenge, at: Self.newYear2026 + 900 * 6) == .rejected(.mismatch))
    }

    @Test("a response made in the future (service clock ahead by a step) is not accepted")
    func future() throws {
        let challenge = Self.pin.makeChallenge()
        let response = try Self.pin.response(for: challenge, at: Self.newYear2026 + 900)
        #expect(Self.pin.verify(response, for: challenge, at: Self.newYear2026) == .rejected(.mismatch))
    }

    @Test("a response for another challenge or another device secret is a mismatch")
    func mismatch() throws {
        let response = try Self.pin.response(for: "K7M2-Q9XD", at: Self.newYear2026)
        #expect(Self.pin.verify(response, for: "K7M2-Q9XE", at: Self.newYear2026) == .rejected(.mismatch))
        let other = OfflinePIN.generate()
        #expect(other.verify(response, for: "K7M2-Q9XD", at: Self.newYear2026) == .rejected(.mismatch))
    }

    @Test(
        "malformed responses and challenges are rejected",
        arguments: [
            ("8018-237", "K7M2-Q9XD", OfflinePIN.Rejection.malformedResponse),
            ("8018-23745", "K7M2-Q9XD", .malformedResponse),
            ("8018-23a4", "K7M2-Q9XD", .malformedResponse),
            ("8018-2374", "K7M2-Q9X", .malformedChallenge),
            ("8018-2374", "K7M2-Q9XU", .malformedChallenge),
        ]
    )
    func malformed(response: String, challenge: String, reason: OfflinePIN.Rejection) {
        #expect(Self.pin.verify(response, for: challenge, at: Self.newYear2026) == .rejected(reason))
    }

    @Test("the service refuses to answer a malformed challenge")
    func serviceRefuses() {
        #expect(throws: OfflinePINError.malformedChallenge) {
            try Self.pin.response(for: "HELLO!", at: Self.newYear2026)
        }
    }

    @Test("challenges are 8 characters of the unambiguous alphabet, grouped 4-4")
    func challengeShape() {
        for _ in 0..<100 {
            let challenge = Self.pin.makeChallenge()
            #expect(challenge.count == 9)
            #expect(challenge.split(separator: "-").map(\.count) == [4, 4])
            #expect(Self.pin.normalizedChallenge(challenge)?.count == 8)
            #expect(!challenge.contains { "ILOU".contains($0) })
        }
    }

    @Test(
        "parameters out of range are refused",
        arguments: [
            (16, 8, 900, 8, OfflinePINError.invalidSecretLength(16)),
            (32, 5, 900, 8, .invalidDigits(5)),
            (32, 11, 900, 8, .invalidDigits(11)),
            (32, 8, 59, 8, .invalidPeriod(59)),
            (32, 8, 900, 5, .invalidChallengeLength(5)),
        ]
    )
    func ranges(secretLength: Int, digits: Int, period: Int, challengeLength: Int, expected: OfflinePINError) {
        #expect(throws: expected) {
            try OfflinePIN(
                secret: Data(count: secretLength),
                digits: digits,
                period: period,
                challengeLength: challengeLength
            )
        }
    }

    @Test("the pin claim round-trips as {alg, secret, digits, period, challenge_length}")
    func codable() throws {
        let data = try JSONEncoder().encode(Self.pin)
        let members = try JSONDecoder().decode([String: JSONValue].self, from: data)
        #expect(Set(members.keys) == ["alg", "secret", "digits", "period", "challenge_length"])
        #expect(members["alg"] == "HS256")
        #expect(try JSONDecoder().decode(OfflinePIN.self, from: data) == Self.pin)
    }

    @Test("six-digit responses are grouped 3-3")
    func sixDigits() throws {
        let pin = try OfflinePIN(secret: Data(0..<32), digits: 6)
        let response = try pin.response(for: "K7M2-Q9XD", at: Self.newYear2026)
        #expect(response.split(separator: "-").map(\.count) == [3, 3])
        #expect(pin.verify(response, for: "K7M2Q9XD", at: Self.newYear2026) == .accepted)
    }
}
