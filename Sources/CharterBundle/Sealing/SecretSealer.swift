public import Crypto
public import Foundation

/// Seals secrets at rest with AES-256-GCM under a rotating set of key-encryption keys.
///
/// A sealer holds one or more 256-bit key-encryption keys (KEKs), each under a ``KeyID``, and
/// one of them is active. ``seal(_:context:)`` always uses the active key;
/// ``open(_:context:)`` opens a value sealed under any key the sealer holds, so a KEK is
/// rotated by adding a new active key, resealing what ``needsResealing(_:)`` reports, and only
/// then dropping the old key.
///
/// The `context` names where the secret lives, for example `tenant/<id>/ldap-bind-password`.
/// It is authenticated (not stored), so a sealed value copied to another row or column does
/// not open there. The additional authenticated data is
/// `charter-sealed-secret/v1` ‖ 0x00 ‖ kid ‖ 0x00 ‖ context, in UTF-8.
///
/// See `docs/sealing.md` for the keyring configuration format and the rotation procedure.
public struct SecretSealer: Sendable {
    /// The identifier of a key-encryption key: 1 to 64 characters from `A-Z a-z 0-9 _ -`.
    public struct KeyID: Sendable, Hashable, CustomStringConvertible {
        /// The identifier's text.
        public let rawValue: String

        /// Validates a key id.
        ///
        /// - Parameter rawValue: The identifier's text.
        /// - Throws: ``SealingError/invalidKeyID(_:)`` when it is empty, too long or uses other characters.
        public init(validating rawValue: String) throws(SealingError) {
            let isValid =
                (1...64).contains(rawValue.utf8.count)
                && rawValue.utf8.allSatisfy { byte in
                    switch byte {
                    case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                        UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "_"), UInt8(ascii: "-"):
                        true
                    default:
                        false
                    }
                }
            guard isValid else {
                throw .invalidKeyID(rawValue)
            }
            self.rawValue = rawValue
        }

        /// The identifier's text.
        public var description: String { rawValue }
    }

    /// The byte length of a key-encryption key.
    public static let keyByteCount = 32

    private static let aadLabel = Data("charter-sealed-secret/\(SealedSecret.version)".utf8)

    /// The id of the key that new seals use.
    public let activeKeyID: KeyID
    private let keys: [KeyID: SymmetricKey]

    /// Creates a sealer from keys already in memory.
    ///
    /// - Parameters:
    ///   - keys: The key-encryption keys by id; each must be 256 bits.
    ///   - activeKeyID: The id of the key that new seals use.
    /// - Throws: ``SealingError/emptyKeyring``, ``SealingError/wrongKeyLength(keyID:byteCount:)``
    ///   or ``SealingError/unknownActiveKeyID(_:)``.
    public init(keys: [KeyID: SymmetricKey], activeKeyID: KeyID) throws(SealingError) {
        guard !keys.isEmpty else {
            throw .emptyKeyring
        }
        for (keyID, key) in keys where key.bitCount != Self.keyByteCount * 8 {
            throw .wrongKeyLength(keyID: keyID.rawValue, byteCount: key.bitCount / 8)
        }
        guard keys[activeKeyID] != nil else {
            throw .unknownActiveKeyID(activeKeyID.rawValue)
        }
        self.keys = keys
        self.activeKeyID = activeKeyID
    }

    /// Creates a sealer from its text configuration.
    ///
    /// The configuration lists entries `kid:base64key`, separated by commas or newlines; the
    /// first entry is the active key. Each key is 32 bytes in standard base64 (as printed by
    /// `openssl rand -base64 32`). Whitespace around entries is ignored, and so are empty
    /// entries, so a file with one entry per line and a trailing newline is valid.
    ///
    /// - Parameter configuration: The keyring text, for example `k2026b:…,k2026a:…`.
    /// - Throws: ``SealingError/emptyKeyring``, ``SealingError/malformedEntry(position:)``,
    ///   ``SealingError/invalidKeyID(_:)``, ``SealingError/invalidBase64(keyID:)``,
    ///   ``SealingError/wrongKeyLength(keyID:byteCount:)`` or ``SealingError/duplicateKeyID(_:)``.
    public init(configuration: String) throws(SealingError) {
        let entries =
            configuration
            .split(whereSeparator: { $0 == "," || $0.isNewline })
            .map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty }
        var keys: [KeyID: SymmetricKey] = [:]
        var activeKeyID: KeyID?
        for (index, entry) in entries.enumerated() {
            let fields = entry.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
            guard fields.count == 2 else {
                throw .malformedEntry(position: index + 1)
            }
            let keyID = try KeyID(validating: fields[0].trimmingCharacters(in: .whitespaces))
            guard let bytes = Data(base64Encoded: fields[1].trimmingCharacters(in: .whitespaces)) else {
                throw .invalidBase64(keyID: keyID.rawValue)
            }
            guard bytes.count == Self.keyByteCount else {
                throw .wrongKeyLength(keyID: keyID.rawValue, byteCount: bytes.count)
            }
            guard keys.updateValue(SymmetricKey(data: bytes), forKey: keyID) == nil else {
                throw .duplicateKeyID(keyID.rawValue)
            }
            activeKeyID = activeKeyID ?? keyID
        }
        guard let activeKeyID else {
            throw .emptyKeyring
        }
        try self.init(keys: keys, activeKeyID: activeKeyID)
    }

    /// Every key, the active one first (for keys derived from the key-encryption keys).
    var orderedKeys: [SymmetricKey] {
        keys.sorted { a, b in a.key == activeKeyID || (b.key != activeKeyID && a.key.rawValue < b.key.rawValue) }
            .map(\.value)
    }

    /// The ids of every key this sealer can open with, sorted.
    public var keyIDs: [KeyID] {
        keys.keys.sorted { $0.rawValue < $1.rawValue }
    }

    /// Seals bytes under the active key.
    ///
    /// - Parameters:
    ///   - plaintext: The secret.
    ///   - context: Where the secret is stored, such as `tenant/<id>/ldap-bind-password`.
    /// - Returns: The sealed value; store its ``SealedSecret/description``.
    /// - Throws: ``SealingError/encryptionFailed`` if the cryptographic library refuses to encrypt,
    ///   which a keyring validated at load time does not cause.
    public func seal(_ plaintext: some DataProtocol, context: String) throws(SealingError) -> SealedSecret {
        let nonce = AES.GCM.Nonce()
        let aad = Self.authenticatedData(keyID: activeKeyID, context: context)
        guard let key = keys[activeKeyID],
            let box = try? AES.GCM.seal(plaintext, using: key, nonce: nonce, authenticating: aad)
        else {
            throw .encryptionFailed
        }
        return SealedSecret(keyID: activeKeyID, nonce: Data(nonce), ciphertext: box.ciphertext, tag: box.tag)
    }

    /// Seals UTF-8 text under the active key.
    ///
    /// - Parameters:
    ///   - plaintext: The secret text.
    ///   - context: Where the secret is stored.
    /// - Returns: The sealed value.
    /// - Throws: ``SealingError/encryptionFailed``, as the byte variant does.
    public func seal(_ plaintext: String, context: String) throws(SealingError) -> SealedSecret {
        try seal(Data(plaintext.utf8), context: context)
    }

    /// Opens a sealed value with the key it names.
    ///
    /// - Parameters:
    ///   - sealed: The sealed value.
    ///   - context: The context it was sealed with.
    /// - Returns: The secret bytes.
    /// - Throws: ``SealingError/unknownKeyID(_:)`` when the key is not held, and
    ///   ``SealingError/authenticationFailed`` when the value was altered or the context differs.
    public func open(_ sealed: SealedSecret, context: String) throws(SealingError) -> Data {
        guard let key = keys[sealed.keyID] else {
            throw .unknownKeyID(sealed.keyID.rawValue)
        }
        let aad = Self.authenticatedData(keyID: sealed.keyID, context: context)
        do {
            let box = try AES.GCM.SealedBox(
                nonce: AES.GCM.Nonce(data: sealed.nonce),
                ciphertext: sealed.ciphertext,
                tag: sealed.tag
            )
            return try AES.GCM.open(box, using: key, authenticating: aad)
        } catch {
            throw .authenticationFailed
        }
    }

    /// Parses and opens the text form of a sealed value.
    ///
    /// - Parameters:
    ///   - text: The stored text `v1.<kid>.<base64url>`.
    ///   - context: The context it was sealed with.
    /// - Returns: The secret bytes.
    /// - Throws: The errors of ``SealedSecret/init(parsing:)`` and ``open(_:context:)``.
    public func open(_ text: String, context: String) throws(SealingError) -> Data {
        try open(SealedSecret(parsing: text), context: context)
    }

    /// Opens a sealed value that holds UTF-8 text.
    ///
    /// - Parameters:
    ///   - text: The stored text `v1.<kid>.<base64url>`.
    ///   - context: The context it was sealed with.
    /// - Returns: The secret text.
    /// - Throws: The errors of ``open(_:context:)`` and ``SealingError/invalidUTF8``.
    public func openString(_ text: String, context: String) throws(SealingError) -> String {
        guard let string = String(data: try open(text, context: context), encoding: .utf8) else {
            throw .invalidUTF8
        }
        return string
    }

    /// Tells whether a sealed value should be resealed because it is not under the active key.
    ///
    /// - Parameter sealed: A stored sealed value.
    /// - Returns: `true` when it was sealed under another key than ``activeKeyID``.
    public func needsResealing(_ sealed: SealedSecret) -> Bool {
        sealed.keyID != activeKeyID
    }

    private static func authenticatedData(keyID: KeyID, context: String) -> Data {
        var aad = aadLabel
        aad.append(0)
        aad.append(contentsOf: keyID.rawValue.utf8)
        aad.append(0)
        aad.append(contentsOf: context.utf8)
        return aad
    }
}
