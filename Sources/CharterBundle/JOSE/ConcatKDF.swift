internal import Crypto
internal import Foundation

/// The Concat KDF of NIST SP 800-56A §5.8.1 with SHA-256, as profiled by RFC 7518 §4.6.2.
///
/// swift-crypto offers the ANSI X9.63 KDF, which puts the counter after the shared secret;
/// JOSE puts it before, so this small function is written here.
enum ConcatKDF {
    /// Derives key material from an ECDH shared secret.
    ///
    /// - Parameters:
    ///   - sharedSecret: Z, the raw output of the key agreement.
    ///   - algorithmID: The `alg` (key wrapping) or `enc` (direct) value.
    ///   - partyUInfo: The decoded `apu`, empty when absent.
    ///   - partyVInfo: The decoded `apv`, empty when absent.
    ///   - keyBitCount: keydatalen, the number of bits to derive (a multiple of 8).
    /// - Returns: The derived key.
    static func deriveKey(
        sharedSecret: some DataProtocol,
        algorithmID: String,
        partyUInfo: Data,
        partyVInfo: Data,
        keyBitCount: Int
    ) -> SymmetricKey {
        var otherInfo = Data()
        appendLengthPrefixed(Data(algorithmID.utf8), to: &otherInfo)
        appendLengthPrefixed(partyUInfo, to: &otherInfo)
        appendLengthPrefixed(partyVInfo, to: &otherInfo)
        appendBigEndian(UInt32(keyBitCount), to: &otherInfo)

        let byteCount = keyBitCount / 8
        var output = Data()
        var counter: UInt32 = 1
        while output.count < byteCount {
            var hash = SHA256()
            var counterBytes = Data()
            appendBigEndian(counter, to: &counterBytes)
            hash.update(data: counterBytes)
            hash.update(data: Data(sharedSecret))
            hash.update(data: otherInfo)
            output.append(contentsOf: hash.finalize())
            counter += 1
        }
        return SymmetricKey(data: output.prefix(byteCount))
    }

    private static func appendLengthPrefixed(_ bytes: Data, to data: inout Data) {
        appendBigEndian(UInt32(bytes.count), to: &data)
        data.append(bytes)
    }

    private static func appendBigEndian(_ value: UInt32, to data: inout Data) {
        withUnsafeBytes(of: value.bigEndian) { data.append(contentsOf: $0) }
    }
}
