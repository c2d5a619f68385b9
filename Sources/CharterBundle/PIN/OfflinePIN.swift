public import CharterJSON
public import Foundation

/// A device's offline-PIN parameters, carried in its bundle as the `pin` claim.
///
/// When the device is offline and policy needs an approval, the agent shows a challenge
/// (``makeChallenge()``); an administrator reads it to the service, which answers with
/// ``response(for:at:)``; the user types the response and the agent checks it with
/// ``verify(_:for:at:)``. The response is HMAC-SHA256 under ``secret`` over
/// `"charter-offline-pin/v1\n" ‖ challenge ‖ "\n" ‖ time step` (the challenge normalised, the
/// step in decimal), its first 8 bytes read as a big-endian integer modulo 10^``digits``,
/// written with leading zeros in two groups (`1234-5678`).
///
/// A response is valid in the time step it was made in and the next one, so it expires after
/// one to two ``period``s. "Valid once" is the agent's part: it discards a challenge as soon as
/// a response for it was accepted (or after a few wrong tries), so the same response cannot
/// be used twice. See `docs/bundle-format.md`.
///
/// On the wire: `{"alg":"HS256","secret":<base64url>,"digits":8,"period":900,"challenge_length":8}`.
public struct OfflinePIN: Sendable, Hashable, Codable {
    /// The only MAC algorithm, written as `alg`.
    public static let algorithm = "HS256"
    /// The challenge alphabet: Crockford's base32 (digits and capitals without I, L, O, U).
    public static let challengeAlphabet: [Character] = Array("0123456789ABCDEFGHJKMNPQRSTVWXYZ")
    /// The byte length of the secret.
    public static let secretByteCount = 32

    /// The device's PIN secret, 32 random bytes.
    public let secret: Data
    /// The number of digits of a response.
    public let digits: Int
    /// The length of a time step, in seconds.
    public let period: Int
    /// The number of characters of a challenge.
    public let challengeLength: Int

    /// Creates PIN parameters.
    ///
    /// - Parameters:
    ///   - secret: 32 secret bytes.
    ///   - digits: The response length, 6 to 10 (default 8).
    ///   - period: The time step in seconds, 60 to 86400 (default 900, 15 minutes).
    ///   - challengeLength: The challenge length, 6 to 16 (default 8, 40 bits).
    /// - Throws: ``OfflinePINError`` for a value out of range.
    public init(secret: Data, digits: Int = 8, period: Int = 900, challengeLength: Int = 8) throws(OfflinePINError) {
        guard secret.count == Self.secretByteCount else {
            throw .invalidSecretLength(secret.count)
        }
        guard (6...10).contains(digits) else {
            throw .invalidDigits(digits)
        }
        guard (60...86_400).contains(period) else {
            throw .invalidPeriod(period)
        }
        guard (6...16).contains(challengeLength) else {
            throw .invalidChallengeLength(challengeLength)
        }
        self.init(validatedSecret: Data(secret), digits: digits, period: period, challengeLength: challengeLength)
    }

    /// Makes parameters with a fresh random secret and the default sizes.
    ///
    /// - Returns: New parameters for a device.
    public static func generate() -> OfflinePIN {
        var generator = SystemRandomNumberGenerator()
        let secret = Data((0..<secretByteCount).map { _ in UInt8.random(in: .min ... .max, using: &generator) })
        return OfflinePIN(validatedSecret: secret, digits: 8, period: 900, challengeLength: 8)
    }

    private init(validatedSecret secret: Data, digits: Int, period: Int, challengeLength: Int) {
        self.secret = secret
        self.digits = digits
        self.period = period
        self.challengeLength = challengeLength
    }

    private enum CodingKeys: String, CodingKey {
        case algorithm = "alg"
        case secret
        case digits
        case period
        case challengeLength = "challenge_length"
    }

    /// Decodes and validates the `pin` claim.
    ///
    /// - Parameter decoder: The decoder to read from.
    /// - Throws: `DecodingError` for a missing or invalid member.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        guard try container.decode(String.self, forKey: .algorithm) == Self.algorithm else {
            throw DecodingError.dataCorruptedError(
                forKey: .algorithm,
                in: container,
                debugDescription: "alg must be HS256"
            )
        }
        guard let secret = Base64URL.decode(try container.decode(String.self, forKey: .secret)) else {
            throw DecodingError.dataCorruptedError(forKey: .secret, in: container, debugDescription: "not base64url")
        }
        do {
            try self.init(
                secret: secret,
                digits: try container.decode(Int.self, forKey: .digits),
                period: try container.decode(Int.self, forKey: .period),
                challengeLength: try container.decode(Int.self, forKey: .challengeLength)
            )
        } catch let error as OfflinePINError {
            throw DecodingError.dataCorrupted(
                DecodingError.Context(codingPath: decoder.codingPath, debugDescription: error.description)
            )
        }
    }

    /// Encodes the `pin` claim.
    ///
    /// - Parameter encoder: The encoder to write to.
    /// - Throws: Only what the encoder throws.
    public func encode(to encoder: any Encoder) throws {
        try jsonValue.encode(to: encoder)
    }

    /// The `pin` claim as a JSON object.
    public var jsonValue: JSONValue {
        [
            "alg": .string(Self.algorithm),
            "secret": .string(Base64URL.encode(secret)),
            "digits": .integer(Int64(digits)),
            "period": .integer(Int64(period)),
            "challenge_length": .integer(Int64(challengeLength)),
        ]
    }
}
