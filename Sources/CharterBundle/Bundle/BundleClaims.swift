public import CharterJSON
public import Foundation

/// The claims of a policy bundle: who it is for, when it is valid, and what it carries.
///
/// On the wire (the payload of the inner JWS), dates are NumericDate seconds and `sub` and
/// `aud` both carry the device id:
///
/// ```json
/// {"iss": "https://charter.example/t/acme", "sub": "dev-1", "aud": "dev-1", "tenant": "acme",
///  "ver": 42, "iat": 1767225600, "nbf": 1767225540, "exp": 1769817600, "refresh_after": 1767229200,
///  "policy": {…}, "pin": {…}, "signing_keys": [{…, "status": "active"}]}
/// ```
public struct BundleClaims: Sendable, Hashable, Codable {
    /// The tenant's issuer URL (`iss`).
    public var issuer: String
    /// The device id, written as both `sub` and `aud`.
    public var deviceID: String
    /// The tenant id (`tenant`).
    public var tenant: String
    /// The bundle version for this device (`ver`), strictly increasing whenever the content changes.
    public var version: Int64
    /// When the bundle was issued (`iat`).
    public var issuedAt: Date
    /// When the bundle becomes valid (`nbf`).
    public var notBefore: Date
    /// The hard expiry (`exp`): after it, the agent stops using the bundle.
    public var expiresAt: Date
    /// The soft expiry (`refresh_after`): after it, the agent should fetch a new bundle.
    public var refreshAfter: Date
    /// The effective policies (`policy`).
    public var policy: BundlePolicy
    /// The device's offline-PIN parameters, including its secret (`pin`).
    public var pin: OfflinePIN
    /// The tenant's bundle-signing public keys with their rotation status (`signing_keys`).
    public var signingKeys: [BundleSigningKey]

    /// Creates bundle claims.
    ///
    /// - Parameters:
    ///   - issuer: The tenant's issuer URL.
    ///   - deviceID: The device id.
    ///   - tenant: The tenant id.
    ///   - version: The bundle version.
    ///   - issuedAt: The issue time.
    ///   - notBefore: The start of validity.
    ///   - expiresAt: The hard expiry.
    ///   - refreshAfter: The soft expiry.
    ///   - policy: The policies.
    ///   - pin: The offline-PIN parameters.
    ///   - signingKeys: The tenant's signing keys.
    public init(
        issuer: String,
        deviceID: String,
        tenant: String,
        version: Int64,
        issuedAt: Date,
        notBefore: Date,
        expiresAt: Date,
        refreshAfter: Date,
        policy: BundlePolicy,
        pin: OfflinePIN,
        signingKeys: [BundleSigningKey]
    ) {
        self.issuer = issuer
        self.deviceID = deviceID
        self.tenant = tenant
        self.version = version
        self.issuedAt = issuedAt
        self.notBefore = notBefore
        self.expiresAt = expiresAt
        self.refreshAfter = refreshAfter
        self.policy = policy
        self.pin = pin
        self.signingKeys = signingKeys
    }

    private enum CodingKeys: String, CodingKey {
        case issuer = "iss"
        case subject = "sub"
        case audience = "aud"
        case tenant
        case version = "ver"
        case issuedAt = "iat"
        case notBefore = "nbf"
        case expiresAt = "exp"
        case refreshAfter = "refresh_after"
        case policy
        case pin
        case signingKeys = "signing_keys"
    }

    /// Decodes the claims.
    ///
    /// `aud` may be a string or an array of exactly one string, and must equal `sub`.
    ///
    /// - Parameter decoder: The decoder to read from.
    /// - Throws: `DecodingError` whose coding path names the offending claim.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let subject = try container.decode(String.self, forKey: .subject)
        let audience: String
        if let single = try? container.decode(String.self, forKey: .audience) {
            audience = single
        } else {
            let list = try container.decode([String].self, forKey: .audience)
            guard list.count == 1 else {
                throw DecodingError.dataCorruptedError(
                    forKey: .audience,
                    in: container,
                    debugDescription: "one audience"
                )
            }
            audience = list[0]
        }
        guard audience == subject else {
            throw DecodingError.dataCorruptedError(
                forKey: .audience,
                in: container,
                debugDescription: "aud must equal sub"
            )
        }
        self.init(
            issuer: try container.decode(String.self, forKey: .issuer),
            deviceID: subject,
            tenant: try container.decode(String.self, forKey: .tenant),
            version: try container.decode(Int64.self, forKey: .version),
            issuedAt: try container.decode(NumericDate.self, forKey: .issuedAt).date,
            notBefore: try container.decode(NumericDate.self, forKey: .notBefore).date,
            expiresAt: try container.decode(NumericDate.self, forKey: .expiresAt).date,
            refreshAfter: try container.decode(NumericDate.self, forKey: .refreshAfter).date,
            policy: try container.decode(BundlePolicy.self, forKey: .policy),
            pin: try container.decode(OfflinePIN.self, forKey: .pin),
            signingKeys: try container.decode([BundleSigningKey].self, forKey: .signingKeys)
        )
    }

    /// Encodes the claims with `sub` and `aud` both set to the device id.
    ///
    /// - Parameter encoder: The encoder to write to.
    /// - Throws: Only what the encoder throws.
    public func encode(to encoder: any Encoder) throws {
        try jsonValue.encode(to: encoder)
    }

    /// The claims as a JSON object, as they are signed.
    public var jsonValue: JSONValue {
        [
            "iss": .string(issuer),
            "sub": .string(deviceID),
            "aud": .string(deviceID),
            "tenant": .string(tenant),
            "ver": .integer(version),
            "iat": .integer(NumericDate(issuedAt).seconds),
            "nbf": .integer(NumericDate(notBefore).seconds),
            "exp": .integer(NumericDate(expiresAt).seconds),
            "refresh_after": .integer(NumericDate(refreshAfter).seconds),
            "policy": policy.jsonValue,
            "pin": pin.jsonValue,
            "signing_keys": .array(signingKeys.map(\.jsonValue)),
        ]
    }

    /// The first inconsistency of the claims as the name of the offending claim, or `nil`.
    var firstInconsistency: String? {
        if let policyProblem = policy.firstInconsistency {
            return policyProblem
        }
        if deviceID.isEmpty {
            return "sub"
        }
        if NumericDate(notBefore).seconds >= NumericDate(expiresAt).seconds {
            return "exp"
        }
        if refreshAfter < notBefore || refreshAfter > expiresAt {
            return "refresh_after"
        }
        return nil
    }
}
