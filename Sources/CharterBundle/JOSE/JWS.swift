import CharterJSON
public import Crypto
public import Foundation

/// A JSON Web Signature in compact serialisation (RFC 7515), signed with Ed25519.
///
/// Create one by signing (``init(signing:type:contentType:with:)``) or by parsing
/// (``init(compactSerialization:)``), which checks the structure and the header but not the
/// signature; call ``verifySignature(trusting:)`` before using the payload.
public struct JWS: Sendable, Hashable {
    /// The protected header.
    public let header: JWSHeader
    /// The payload bytes.
    public let payload: Data
    /// The signature bytes.
    public let signature: Data
    /// The compact serialisation `header.payload.signature`.
    public let compactSerialization: String
    private let signingInput: Data

    /// The byte length of an Ed25519 signature.
    static let signatureByteCount = 64

    /// Signs a payload with an Ed25519 key.
    ///
    /// The header is `{"alg":"Ed25519","kid":<thumbprint of the public key>,"typ":type}`, plus
    /// `cty` when given, with members sorted.
    ///
    /// - Parameters:
    ///   - payload: The bytes to sign.
    ///   - type: The `typ` header value, or `nil` to leave it out.
    ///   - contentType: The `cty` header value, or `nil` to leave it out.
    ///   - key: The Ed25519 private key.
    /// - Throws: ``JOSEError/cryptographicFailure(operation:)`` if the library fails to sign.
    public init(
        signing payload: some DataProtocol,
        type: String?,
        contentType: String? = nil,
        with key: Curve25519.Signing.PrivateKey
    )
        throws(JOSEError)
    {
        let header = JWSHeader(keyID: JWK(key.publicKey).thumbprint, type: type, contentType: contentType)
        let signed = try Self.sign(payload, header: header, with: key)
        self.header = header
        self.payload = Data(payload)
        self.signature = signed.signature
        self.signingInput = Data(signed.bytes[..<signed.signingInputCount])
        self.compactSerialization = String(decoding: signed.bytes, as: UTF8.self)
    }

    /// The result of signing: the compact serialisation as bytes, ready to be encrypted.
    struct Signed {
        /// The bytes of `header.payload.signature`.
        let bytes: [UInt8]
        /// The length of the signing input `header.payload` at the start of ``bytes``.
        let signingInputCount: Int
        /// The signature.
        let signature: Data
    }

    /// Signs a payload under a header, writing the compact serialisation into one buffer.
    ///
    /// - Throws: ``JOSEError/cryptographicFailure(operation:)`` if the library fails to sign.
    static func sign(
        _ payload: some DataProtocol,
        header: JWSHeader,
        with key: Curve25519.Signing.PrivateKey
    ) throws(JOSEError) -> Signed {
        let headerJSON = JSONValue.object(header.members).canonicalBytes
        var bytes: [UInt8] = []
        bytes.reserveCapacity(
            Base64URL.encodedCount(headerJSON.count) + Base64URL.encodedCount(payload.count)
                + Base64URL.encodedCount(Self.signatureByteCount) + 2
        )
        Base64URL.append(encoding: headerJSON, to: &bytes)
        bytes.append(UInt8(ascii: "."))
        Base64URL.append(encoding: payload, to: &bytes)
        let signingInputCount = bytes.count
        let signature: Data
        do {
            signature = try bytes.withUnsafeBytes { signingInput in try key.signature(for: signingInput) }
        } catch {
            throw .cryptographicFailure(operation: "sign with Ed25519")
        }
        bytes.append(UInt8(ascii: "."))
        Base64URL.append(encoding: signature, to: &bytes)
        return Signed(bytes: bytes, signingInputCount: signingInputCount, signature: signature)
    }

    /// Parses a compact JWS, checking its structure and header but not its signature.
    ///
    /// - Parameter compactSerialization: The text `header.payload.signature`.
    /// - Throws: ``JOSEError`` for a malformed serialisation or an unacceptable header.
    public init(compactSerialization: String) throws(JOSEError) {
        guard let parts = CompactSerialization.parts(of: compactSerialization, count: 3) else {
            throw .malformedCompactSerialization(expectedParts: 3)
        }
        let header = try JWSHeader(members: HeaderMembers.decodeProtectedHeader(parts[0]))
        guard let payload = Base64URL.decode(parts[1]) else {
            throw .invalidBase64URL(part: "payload")
        }
        guard let signature = Base64URL.decode(parts[2]) else {
            throw .invalidBase64URL(part: "signature")
        }
        self.header = header
        self.payload = payload
        self.signature = signature
        self.signingInput = Data("\(parts[0]).\(parts[1])".utf8)
        self.compactSerialization = compactSerialization
    }

    /// Verifies the signature with one given key.
    ///
    /// - Parameter key: An Ed25519 public JWK.
    /// - Throws: ``JOSEError/keyCurveMismatch(expected:actual:)`` for a key that is not Ed25519,
    ///   ``JOSEError/invalidSignature`` when the signature does not verify.
    public func verifySignature(with key: JWK) throws(JOSEError) {
        let publicKey = try key.signingPublicKey()
        guard signature.count == Self.signatureByteCount,
            publicKey.isValidSignature(signature, for: signingInput)
        else {
            throw .invalidSignature
        }
    }

    /// Verifies the signature with the trusted key named by the header's `kid`.
    ///
    /// - Parameter keys: The trusted (pinned) keys.
    /// - Returns: The key that verified the signature.
    /// - Throws: ``JOSEError/unknownKeyID(_:)`` when no trusted key has the header's `kid` (or
    ///   there is none), and the errors of ``verifySignature(with:)``.
    @discardableResult
    public func verifySignature(trusting keys: JWKSet) throws(JOSEError) -> JWK {
        guard let keyID = header.keyID, let key = keys.key(withID: keyID) else {
            throw .unknownKeyID(header.keyID)
        }
        try verifySignature(with: key)
        return key
    }
}
