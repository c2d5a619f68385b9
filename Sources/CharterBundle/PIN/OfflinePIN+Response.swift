internal import Crypto
public import Foundation

extension OfflinePIN {
    /// The outcome of checking a response on the agent.
    public enum Verification: Sendable, Hashable {
        /// The response is right for the challenge in the current or the previous time step.
        case accepted
        /// The response was refused, for the given reason.
        case rejected(Rejection)
    }

    /// Why a response was refused.
    public enum Rejection: String, Sendable, Hashable {
        /// The challenge is not one this device could have shown.
        case malformedChallenge = "pin.malformed_challenge"
        /// The response is not the expected number of digits.
        case malformedResponse = "pin.malformed_response"
        /// The response was right in an earlier time step, but has expired; ask for a new one.
        case expired = "pin.expired"
        /// The response is wrong.
        case mismatch = "pin.mismatch"

        /// A stable, machine-readable identifier of the rejection.
        public var code: String { rawValue }
    }

    /// The number of earlier steps, beyond the accepted ones, in which a matching response is
    /// reported as ``Rejection/expired`` rather than ``Rejection/mismatch``.
    static let expiredStepsReported: Int64 = 4

    /// Makes a challenge for the agent to show, grouped in two halves (`K7M2-Q9XD`).
    ///
    /// - Parameter generator: The source of randomness.
    /// - Returns: A challenge of ``challengeLength`` characters from ``challengeAlphabet``.
    public func makeChallenge(using generator: inout some RandomNumberGenerator) -> String {
        let characters = (0..<challengeLength).map { _ in
            Self.challengeAlphabet[Int.random(in: 0..<Self.challengeAlphabet.count, using: &generator)]
        }
        return Self.grouped(String(characters))
    }

    /// Makes a challenge from the system's secure random source.
    ///
    /// - Returns: A challenge such as `K7M2-Q9XD`.
    public func makeChallenge() -> String {
        var generator = SystemRandomNumberGenerator()
        return makeChallenge(using: &generator)
    }

    /// Computes the response the service reads out for a challenge.
    ///
    /// - Parameters:
    ///   - challenge: The challenge as the agent shows it; case, spaces, dashes and the look-alikes
    ///     `O`, `I`, `L` (read as `0`, `1`, `1`) are normalised.
    ///   - date: The time of the request.
    /// - Returns: The response, ``digits`` digits in two groups, such as `0481-2267`.
    /// - Throws: ``OfflinePINError/malformedChallenge`` for a challenge the agent could not have shown.
    public func response(for challenge: String, at date: Date) throws(OfflinePINError) -> String {
        guard let normalized = normalizedChallenge(challenge) else {
            throw .malformedChallenge
        }
        return Self.grouped(code(for: normalized, step: step(at: date)))
    }

    /// Checks on the agent a response typed by the user.
    ///
    /// The response must match the challenge in the current or the previous time step. Every
    /// candidate is compared in constant time. The agent must discard the challenge after an
    /// accepted response, and after a few rejected ones, so that a response is valid once.
    ///
    /// - Parameters:
    ///   - response: The typed response; spaces and dashes are ignored.
    ///   - challenge: The challenge the agent showed.
    ///   - date: The time of the check.
    /// - Returns: ``Verification/accepted`` or the reason for the rejection.
    public func verify(_ response: String, for challenge: String, at date: Date) -> Verification {
        guard let normalized = normalizedChallenge(challenge) else {
            return .rejected(.malformedChallenge)
        }
        let typed = Array(response.utf8.filter { $0 != UInt8(ascii: " ") && $0 != UInt8(ascii: "-") })
        guard typed.count == digits, typed.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }) else {
            return .rejected(.malformedResponse)
        }
        let current = step(at: date)
        var isAccepted = false
        for step in (current - 1)...current {
            isAccepted = Self.constantTimeEquals(typed, Array(code(for: normalized, step: step).utf8)) || isAccepted
        }
        if isAccepted {
            return .accepted
        }
        var isExpired = false
        for step in (current - 1 - Self.expiredStepsReported)..<(current - 1) {
            isExpired = Self.constantTimeEquals(typed, Array(code(for: normalized, step: step).utf8)) || isExpired
        }
        return .rejected(isExpired ? .expired : .mismatch)
    }

    /// The time step of a date: whole periods since the epoch.
    ///
    /// - Parameter date: The time.
    /// - Returns: The step number.
    public func step(at date: Date) -> Int64 {
        Int64((date.timeIntervalSince1970 / Double(period)).rounded(.down))
    }

    /// The canonical normalised form of a challenge, or `nil` when it is not valid.
    ///
    /// - Parameter challenge: The challenge as shown or read out.
    /// - Returns: The challenge without separators, in capitals, with look-alikes mapped.
    public func normalizedChallenge(_ challenge: String) -> String? {
        var normalized = ""
        for character in challenge.uppercased() {
            switch character {
            case " ", "-": continue
            case "O": normalized.append("0")
            case "I", "L": normalized.append("1")
            default:
                guard Self.challengeAlphabet.contains(character) else {
                    return nil
                }
                normalized.append(character)
            }
        }
        return normalized.count == challengeLength ? normalized : nil
    }

    func code(for normalizedChallenge: String, step: Int64) -> String {
        let message = Data("charter-offline-pin/v1\n\(normalizedChallenge)\n\(step)".utf8)
        let mac = HMAC<SHA256>.authenticationCode(for: message, using: SymmetricKey(data: secret))
        let value = Data(mac).prefix(8).reduce(UInt64(0)) { ($0 << 8) | UInt64($1) }
        var modulus: UInt64 = 1
        for _ in 0..<digits {
            modulus *= 10
        }
        let number = String(value % modulus)
        return String(repeating: "0", count: digits - number.count) + number
    }

    private static func grouped(_ text: String) -> String {
        let half = (text.count + 1) / 2
        return "\(text.prefix(half))-\(text.dropFirst(half))"
    }

    private static func constantTimeEquals(_ left: [UInt8], _ right: [UInt8]) -> Bool {
        guard left.count == right.count else {
            return false
        }
        var difference: UInt8 = 0
        for index in left.indices {
            difference |= left[index] ^ right[index]
        }
        return difference == 0
    }
}
