import CharterJSON
public import Crypto
public import Foundation

/// A JSON Web Encryption in compact serialisation (RFC 7516) with `ECDH-ES+A256KW` and `A256GCM`.
///
/// Encryption makes an ephemeral X25519 key, agrees a shared secret with the recipient's
/// X25519 key, derives a key-encryption key with the Concat KDF (RFC 7518 §4.6.2: SHA-256,
/// AlgorithmID `ECDH-ES+A256KW`, keydatalen 256, the given `apu`/`apv`), wraps a random
/// 256-bit content-encryption key with AES key wrap (RFC 3394), and encrypts the content with
/// AES-256-GCM whose additional authenticated data is the ASCII of the encoded protected
/// header. There is no JWE AAD and no unprotected header in the compact form.
public struct JWE: Sendable, Hashable {
    /// The protected header.
    public let header: JWEHeader
    /// The wrapped content-encryption key (40 bytes).
    public let encryptedKey: Data
    /// The AES-GCM initialization vector (12 bytes).
    public let initializationVector: Data
    /// The encrypted content.
    public let ciphertext: Data
    /// The AES-GCM authentication tag (16 bytes).
    public let tag: Data
    private let encodedHeader: String

    static let encryptedKeyByteCount = 40
    static let initializationVectorByteCount = 12
    static let tagByteCount = 16

    /// Encrypts a plaintext to a recipient's X25519 public key.
    ///
    /// The header carries `alg`, `enc`, `epk`, `kid` (the recipient key's RFC 7638 thumbprint),
    /// and `cty`, `typ`, `apu`, `apv` when given.
    ///
    /// - Parameters:
    ///   - plaintext: The content to encrypt.
    ///   - recipient: The recipient's X25519 public JWK.
    ///   - contentType: The `cty` header value (`JWT` for a nested JWT), or `nil`.
    ///   - type: The `typ` header value, or `nil`.
    ///   - partyUInfo: The `apu` bytes; empty leaves `apu` out.
    ///   - partyVInfo: The `apv` bytes; empty leaves `apv` out.
    /// - Throws: ``JOSEError/keyCurveMismatch(expected:actual:)`` when the recipient key is not
    ///   X25519, ``JOSEError/keyAgreementFailed`` for a low-order recipient key.
    public init(
        encrypting plaintext: some DataProtocol,
        to recipient: JWK,
        contentType: String?,
        type: String? = nil,
        partyUInfo: Data = Data(),
        partyVInfo: Data = Data()
    ) throws(JOSEError) {
        let sealed = try Self.seal(
            plaintext,
            to: recipient,
            contentType: contentType,
            type: type,
            partyUInfo: partyUInfo,
            partyVInfo: partyVInfo
        )
        self.header = sealed.header
        self.encodedHeader = sealed.encodedHeader
        self.encryptedKey = sealed.encryptedKey
        self.initializationVector = Data(sealed.box.nonce)
        self.ciphertext = sealed.box.ciphertext
        self.tag = sealed.box.tag
    }

    /// The result of encrypting, before it is taken apart into ``JWE``'s parts or serialised.
    struct Sealed {
        let header: JWEHeader
        let encodedHeader: String
        let encryptedKey: Data
        let box: AES.GCM.SealedBox

        /// The compact serialisation, written in one buffer.
        var compactSerialization: String {
            JWE.compactSerialization(
                encodedHeader: encodedHeader,
                parts: [encryptedKey, Data(box.nonce), box.ciphertext, box.tag]
            )
        }
    }

    /// Encrypts a plaintext to a recipient's X25519 public key, as the public initialiser describes.
    static func seal(
        _ plaintext: some DataProtocol,
        to recipient: JWK,
        contentType: String?,
        type: String? = nil,
        partyUInfo: Data = Data(),
        partyVInfo: Data = Data()
    ) throws(JOSEError) -> Sealed {
        let recipientKey = try recipient.agreementPublicKey()
        let ephemeralKey = Curve25519.KeyAgreement.PrivateKey()
        let header = JWEHeader(
            ephemeralPublicKey: JWK(ephemeralKey.publicKey),
            keyID: recipient.thumbprint,
            type: type,
            contentType: contentType,
            partyUInfo: partyUInfo.isEmpty ? nil : partyUInfo,
            partyVInfo: partyVInfo.isEmpty ? nil : partyVInfo
        )
        let encodedHeader = Base64URL.encode(JSONValue.object(header.members).canonicalBytes)
        let keyEncryptionKey = try Self.keyEncryptionKey(
            privateKey: ephemeralKey,
            publicKey: recipientKey,
            partyUInfo: partyUInfo,
            partyVInfo: partyVInfo
        )
        let contentKey = SymmetricKey(size: .bits256)
        do {
            let encryptedKey = try AES.KeyWrap.wrap(contentKey, using: keyEncryptionKey)
            let box = try AES.GCM.seal(plaintext, using: contentKey, authenticating: Data(encodedHeader.utf8))
            return Sealed(header: header, encodedHeader: encodedHeader, encryptedKey: encryptedKey, box: box)
        } catch {
            throw .cryptographicFailure(operation: "wrap the key and encrypt with AES-256-GCM")
        }
    }

    /// Writes `encodedHeader.part.part…` with each part base64url-encoded, into one exactly sized string.
    static func compactSerialization(encodedHeader: String, parts: [Data]) -> String {
        var encodedHeader = encodedHeader
        let count = parts.reduce(encodedHeader.utf8.count) { $0 + 1 + Base64URL.encodedCount($1.count) }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(count)
        encodedHeader.withUTF8 { bytes.append(contentsOf: $0) }
        for part in parts {
            bytes.append(UInt8(ascii: "."))
            Base64URL.append(encoding: part, to: &bytes)
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Parses a compact JWE, checking its structure, header and part lengths.
    ///
    /// - Parameter compactSerialization: The text `header.encryptedKey.iv.ciphertext.tag`.
    /// - Throws: ``JOSEError`` for a malformed serialisation, an unacceptable header or a part of the wrong length.
    public init(compactSerialization: String) throws(JOSEError) {
        guard let parts = CompactSerialization.parts(of: compactSerialization, count: 5) else {
            throw .malformedCompactSerialization(expectedParts: 5)
        }
        let header = try JWEHeader(members: HeaderMembers.decodeProtectedHeader(parts[0]))
        let names = ["encrypted key", "initialization vector", "ciphertext", "authentication tag"]
        var decoded: [Data] = []
        for (name, part) in zip(names, parts[1...]) {
            guard let bytes = Base64URL.decode(part) else {
                throw .invalidBase64URL(part: name)
            }
            decoded.append(bytes)
        }
        guard decoded[0].count == Self.encryptedKeyByteCount else {
            throw .invalidLength(part: "encrypted key")
        }
        guard decoded[1].count == Self.initializationVectorByteCount else {
            throw .invalidLength(part: "initialization vector")
        }
        guard decoded[3].count == Self.tagByteCount else {
            throw .invalidLength(part: "authentication tag")
        }
        self.header = header
        self.encodedHeader = String(parts[0])
        self.encryptedKey = decoded[0]
        self.initializationVector = decoded[1]
        self.ciphertext = decoded[2]
        self.tag = decoded[3]
    }

    /// The compact serialisation `header.encryptedKey.iv.ciphertext.tag`.
    public var compactSerialization: String {
        Self.compactSerialization(
            encodedHeader: encodedHeader,
            parts: [encryptedKey, initializationVector, ciphertext, tag]
        )
    }

    /// Decrypts with the recipient's X25519 private key.
    ///
    /// - Parameter privateKey: The recipient's private key.
    /// - Returns: The plaintext.
    /// - Throws: ``JOSEError/recipientMismatch(keyID:)`` when the header's `kid` is not this key's
    ///   thumbprint, ``JOSEError/keyAgreementFailed``, ``JOSEError/keyUnwrapFailed`` or
    ///   ``JOSEError/decryptionFailed`` when anything was altered or the key is wrong.
    public func decrypt(with privateKey: Curve25519.KeyAgreement.PrivateKey) throws(JOSEError) -> Data {
        if let keyID = header.keyID, keyID != JWK(privateKey.publicKey).thumbprint {
            throw .recipientMismatch(keyID: keyID)
        }
        let keyEncryptionKey = try Self.keyEncryptionKey(
            privateKey: privateKey,
            publicKey: header.ephemeralPublicKey.agreementPublicKey(),
            partyUInfo: header.partyUInfo ?? Data(),
            partyVInfo: header.partyVInfo ?? Data()
        )
        let contentKey: SymmetricKey
        do {
            contentKey = try AES.KeyWrap.unwrap(encryptedKey, using: keyEncryptionKey)
        } catch {
            throw .keyUnwrapFailed
        }
        do {
            let box = try AES.GCM.SealedBox(
                nonce: AES.GCM.Nonce(data: initializationVector),
                ciphertext: ciphertext,
                tag: tag
            )
            return try AES.GCM.open(box, using: contentKey, authenticating: Data(encodedHeader.utf8))
        } catch {
            throw .decryptionFailed
        }
    }

    private static func keyEncryptionKey(
        privateKey: Curve25519.KeyAgreement.PrivateKey,
        publicKey: Curve25519.KeyAgreement.PublicKey,
        partyUInfo: Data,
        partyVInfo: Data
    ) throws(JOSEError) -> SymmetricKey {
        let sharedSecret: SharedSecret
        do {
            sharedSecret = try privateKey.sharedSecretFromKeyAgreement(with: publicKey)
        } catch {
            throw .keyAgreementFailed
        }
        // swift-crypto does not reject the all-zero secret that a low-order public key produces;
        // RFC 7748 §6.1 asks for that check, so it is done here.
        let isAllZero = sharedSecret.withUnsafeBytes { bytes in bytes.reduce(0, |) == 0 }
        guard !isAllZero else {
            throw .keyAgreementFailed
        }
        return sharedSecret.withUnsafeBytes { bytes in
            ConcatKDF.deriveKey(
                sharedSecret: bytes,
                algorithmID: JWEHeader.KeyManagementAlgorithm.ecdhESA256KW.rawValue,
                partyUInfo: partyUInfo,
                partyVInfo: partyVInfo,
                keyBitCount: 256
            )
        }
    }
}
