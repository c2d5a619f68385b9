/// A failure to make offline-PIN parameters or a response.
///
/// Every case has a stable ``code`` such as `pin.malformed_challenge`.
public enum OfflinePINError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The secret is not 32 bytes.
    case invalidSecretLength(Int)
    /// The number of response digits is outside 6...10.
    case invalidDigits(Int)
    /// The time step is outside 60...86400 seconds.
    case invalidPeriod(Int)
    /// The challenge length is outside 6...16 characters.
    case invalidChallengeLength(Int)
    /// The challenge has the wrong length or characters outside the challenge alphabet.
    case malformedChallenge

    /// A stable, machine-readable identifier of the failure.
    public var code: String {
        switch self {
        case .invalidSecretLength: "pin.invalid_secret_length"
        case .invalidDigits: "pin.invalid_digits"
        case .invalidPeriod: "pin.invalid_period"
        case .invalidChallengeLength: "pin.invalid_challenge_length"
        case .malformedChallenge: "pin.malformed_challenge"
        }
    }

    /// A human-readable explanation of the failure.
    public var description: String {
        switch self {
        case .invalidSecretLength(let count):
            "the PIN secret is \(count) bytes long; it must be 32"
        case .invalidDigits(let digits):
            "a PIN response of \(digits) digits is not allowed; use 6 to 10"
        case .invalidPeriod(let period):
            "a PIN time step of \(period) seconds is not allowed; use 60 to 86400"
        case .invalidChallengeLength(let length):
            "a challenge of \(length) characters is not allowed; use 6 to 16"
        case .malformedChallenge:
            "the challenge has the wrong length or a character that is not in the challenge alphabet"
        }
    }
}
