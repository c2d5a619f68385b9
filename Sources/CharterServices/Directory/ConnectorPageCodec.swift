package import CharterAgentWire
package import CharterStore
import CompressNIO
import Crypto
package import Foundation
package import NIOCore

/// A page of a connector's upload as the service reads it: decompressed within the limits, decoded and checked
/// against every rule of docs/connector-protocol.md ("Upload"), mapped to the entries the staging takes.
///
/// The upload route and the sync engine both read pages through this, so a page the route stored is one the
/// engine can merge.
package enum ConnectorPageCodec {
    /// The most bytes a page may have as sent.
    package static let maximumSentBytes = 8 << 20
    /// The most bytes a page may have decompressed.
    package static let maximumBytes = 64 << 20
    /// The most objects plus deletions on one page.
    package static let maximumItems = 2000

    /// A decoded page: the entries to stage, the objectGUIDs of tombstones and the SHA-256 of its JSON.
    package struct Decoded: Sendable {
        package var entries: [DirectoryEntry]
        package var deletions: [UUID]
        package var sha256: Data
    }

    /// Decompresses (gzip) or takes as is (identity) a page's body, within the limits.
    ///
    /// - Throws: ``ConnectorRunError/tooLarge(_:)`` beyond either limit, ``ConnectorRunError/malformed(_:field:)``
    ///   for a body that is not gzip.
    package static func inflate(_ body: ByteBuffer, isGzip: Bool) throws(ConnectorRunError) -> ByteBuffer {
        guard body.readableBytes <= maximumSentBytes else {
            throw .tooLarge("A page may have at most \(maximumSentBytes) bytes as sent.")
        }
        guard isGzip else { return body }
        var input = body
        let output: ByteBuffer
        do {
            // One byte over the limit tells a page at the limit from one beyond it.
            output = try input.decompress(with: .gzip(), maxSize: maximumBytes + 1)
        } catch let error as CompressNIOError where error == .bufferOverflow {
            throw .tooLarge("A page may have at most \(maximumBytes) bytes decompressed.")
        } catch {
            throw .malformed("The body is not valid gzip (Content-Encoding: gzip).", field: nil)
        }
        guard output.readableBytes <= maximumBytes else {
            throw .tooLarge("A page may have at most \(maximumBytes) bytes decompressed.")
        }
        return output
    }

    /// Decodes and checks a page's JSON.
    ///
    /// - Throws: ``ConnectorRunError/malformed(_:field:)`` for a body that is not JSON,
    ///   ``ConnectorRunError/invalid(_:field:)`` with the JSON pointer of the first value that breaks a rule.
    package static func decode(_ json: ByteBuffer) throws(ConnectorRunError) -> Decoded {
        let data = Data(json.readableBytesView)
        let page: DirectoryPage
        do {
            page = try JSONDecoder().decode(DirectoryPage.self, from: data)
        } catch let error as DecodingError {
            throw refusal(error)
        } catch {
            throw .malformed("The page is not valid JSON.", field: nil)
        }
        guard page.objects.count + page.deleted.count <= maximumItems else {
            throw .invalid("A page has at most \(maximumItems) objects and deletions together.", field: "/objects")
        }
        var entries: [DirectoryEntry] = []
        entries.reserveCapacity(page.objects.count)
        for (index, object) in page.objects.enumerated() {
            entries.append(try DirectoryEntry(object, at: "/objects/\(index)"))
        }
        return Decoded(entries: entries, deletions: page.deleted, sha256: Data(SHA256.hash(data: data)))
    }

    /// The refusal a decoding error stands for: not JSON at all is malformed (400), a value of the wrong type or
    /// form (a GUID that is not one, a missing member, an unknown one) breaks a rule at its pointer (422).
    private static func refusal(_ error: DecodingError) -> ConnectorRunError {
        let path: [any CodingKey]
        let detail: String
        switch error {
        case .typeMismatch(_, let context), .valueNotFound(_, let context):
            path = context.codingPath
            detail = "A value has the wrong type."
        case .keyNotFound(let key, let context):
            path = context.codingPath + [key]
            detail = "The required member '\(key.stringValue)' is missing."
        case .dataCorrupted(let context):
            path = context.codingPath
            detail = context.codingPath.isEmpty ? "The page is not valid JSON." : context.debugDescription
        @unknown default:
            return .malformed("The page could not be decoded.", field: nil)
        }
        guard !path.isEmpty else { return .malformed(detail, field: nil) }
        let pointer = path.map { key in
            key.intValue.map(String.init) ?? key.stringValue.replacingOccurrences(of: "~", with: "~0")
                .replacingOccurrences(of: "/", with: "~1")
        }
        return .invalid(detail, field: "/" + pointer.joined(separator: "/"))
    }
}
