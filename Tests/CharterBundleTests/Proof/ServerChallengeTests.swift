@testable import CharterBundle
import Crypto
import Foundation
import Testing

/// The challenges the service mints for devices to sign: checkable by any replica, unforgeable, expiring.
@Suite("Server challenges")
struct ServerChallengeTests {
    static let now = Date(timeIntervalSince1970: 1_800_000_000)
    static let keyA = SymmetricKey(data: Data(repeating: 1, count: 32))
    static let keyB = SymmetricKey(data: Data(repeating: 2, count: 32))

    @Test("a minted nonce is accepted until it expires, by any replica with the same keys")
    func roundTrip() {
        let minting = ServerChallenges(keys: [Self.keyA])
        let (nonce, expiresAt) = minting.mint(now: Self.now)
        #expect(expiresAt == Self.now.addingTimeInterval(ServerChallenges.lifetime))
        #expect(nonce.count == 76 && nonce.allSatisfy { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" })
        let replica = ServerChallenges(keys: [Self.keyA])
        #expect(replica.expiry(of: nonce, now: Self.now) == expiresAt)
        #expect(replica.expiry(of: nonce, now: expiresAt.addingTimeInterval(-1)) == expiresAt)
        #expect(replica.expiry(of: nonce, now: expiresAt) == nil)
        #expect(minting.mint(now: Self.now).nonce != nonce)
    }

    @Test("after a key rotation, challenges minted under the previous key still verify; another key's do not")
    func rotation() {
        let before = ServerChallenges(keys: [Self.keyA])
        let (nonce, _) = before.mint(now: Self.now)
        #expect(ServerChallenges(keys: [Self.keyB, Self.keyA]).expiry(of: nonce, now: Self.now) != nil)
        #expect(ServerChallenges(keys: [Self.keyB]).expiry(of: nonce, now: Self.now) == nil)
    }

    @Test("an altered, truncated, extended or foreign nonce is refused", arguments: 0..<57)
    func alteredByte(index: Int) throws {
        let challenges = ServerChallenges(keys: [Self.keyA])
        var bytes = try #require(Base64URL.decode(challenges.mint(now: Self.now).nonce))
        bytes[bytes.startIndex + index] ^= 0x01
        #expect(challenges.expiry(of: Base64URL.encode(bytes), now: Self.now) == nil)
    }

    @Test(
        "malformed nonces are refused",
        arguments: ["", "AAAA", "not base64!", String(repeating: "A", count: 76), String(repeating: "A", count: 5000)]
    )
    func malformed(nonce: String) {
        #expect(ServerChallenges(keys: [Self.keyA]).expiry(of: nonce, now: Self.now) == nil)
    }

    @Test("a nonce is bound to its expiry: moving the expiry later breaks the MAC")
    func expiryIsAuthenticated() throws {
        let challenges = ServerChallenges(keys: [Self.keyA])
        var bytes = try #require(Base64URL.decode(challenges.mint(now: Self.now).nonce))
        bytes[bytes.startIndex + 1] = 0x7f
        #expect(challenges.expiry(of: Base64URL.encode(bytes), now: Self.now) == nil)
        let sealer = try SecretSealer(keys: [try .init(validating: "a"): Self.keyA], activeKeyID: try .init(validating: "a"))
        let (nonce, _) = ServerChallenges(sealer: sealer).mint(now: Self.now)
        #expect(challenges.expiry(of: nonce, now: Self.now) != nil, "the sealer's keys derive the same challenge key")
    }
}
