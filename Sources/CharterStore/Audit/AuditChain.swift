package import CharterCore
import Crypto
package import Foundation

/// The hash chain of an audit log: how an event's hash is computed from its content and its predecessor's hash.
///
/// The encoding is a sequence of length-prefixed fields (4-byte big-endian length, then UTF-8; an absent
/// value is the length `0xFFFFFFFF` with no bytes), in a fixed order, starting with a version tag, so two
/// different events can never encode alike. `hash = SHA-256(encoding)`; the first event's previous hash is
/// 32 zero bytes. docs/audit.md specifies it for outside verifiers.
package enum AuditChain {
    package static let genesis = [UInt8](repeating: 0, count: 32)

    /// The microseconds since 1970 that the log stores; the hash is computed over this, not over a `Date`.
    package static func microseconds(_ date: Date) -> Int64 {
        Int64((date.timeIntervalSince1970 * 1_000_000).rounded(.down))
    }

    package static func hash(
        scope: UUID,
        sequence: Int64,
        record: AuditRecord,
        occurredAtMicroseconds: Int64,
        previousHash: [UInt8]
    ) -> [UInt8] {
        var encoding: [UInt8] = []
        func field(_ value: String?) {
            guard let value else {
                encoding.append(contentsOf: [0xFF, 0xFF, 0xFF, 0xFF])
                return
            }
            let bytes = Array(value.utf8)
            withUnsafeBytes(of: UInt32(bytes.count).bigEndian) { encoding.append(contentsOf: $0) }
            encoding.append(contentsOf: bytes)
        }
        // An event a person made is tagged v2 and names them after the v1 fields; every other event keeps the
        // v1 encoding, so chains written before people existed verify unchanged.
        field(record.actor.person == nil ? "charter-audit-v1" : "charter-audit-v2")
        field(scope.uuidString.lowercased())
        field(String(sequence))
        field(record.id.description)
        field(String(occurredAtMicroseconds))
        field(record.actor.id?.uuidString.lowercased())
        field(record.actor.name)
        field(record.action)
        field(record.targetType)
        field(record.targetID)
        field(record.before)
        field(record.after)
        field(record.actor.requestID)
        field(record.actor.clientIP)
        if let person = record.actor.person {
            field(person.issuer)
            field(person.subject)
            field(person.email)
        }
        encoding.append(contentsOf: previousHash)
        return Array(SHA256.hash(data: encoding))
    }
}
