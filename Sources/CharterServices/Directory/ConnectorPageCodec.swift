package import CharterAgentWire
import CharterJSON
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

        package init(entries: [DirectoryEntry], deletions: [UUID], sha256: Data) {
            self.entries = entries
            self.deletions = deletions
            self.sha256 = sha256
        }
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
    /// The text is read by ``JSONParser`` (strict RFC 8259; a member named twice in one object is refused, as no
    /// two readers could agree on it) and mapped by hand, member by member, with the refusals `JSONDecoder` gave:
    /// the pointer of a missing, unknown or mistyped member; cheaper than `JSONDecoder` with the unknown-member
    /// check of ``DirectoryPage``'s `Decodable` form, which the connector's own tests still use.
    ///
    /// - Throws: ``ConnectorRunError/malformed(_:field:)`` for a body that is not JSON,
    ///   ``ConnectorRunError/invalid(_:field:)`` with the JSON pointer of the first value that breaks a rule.
    package static func decode(_ json: ByteBuffer) throws(ConnectorRunError) -> Decoded {
        let root: JSONValue
        do {
            root = try JSONParser.parse(json.readableBytesView)
        } catch {
            guard error.reason == .duplicateMember else { throw .malformed("The page is not valid JSON.", field: nil) }
            throw .invalid("A member appears more than once in one object.", field: error.pointer.description)
        }
        guard case .object = root else { throw .malformed("The page is not a JSON object.", field: nil) }
        let page = try PageReader.page(root)
        guard page.objects.count + page.deleted.count <= maximumItems else {
            throw .invalid("A page has at most \(maximumItems) objects and deletions together.", field: "/objects")
        }
        var entries: [DirectoryEntry] = []
        entries.reserveCapacity(page.objects.count)
        for (index, object) in page.objects.enumerated() {
            entries.append(try DirectoryEntry(object, at: "/objects/\(index)"))
        }
        let sha256 = json.withUnsafeReadableBytes { Data(SHA256.hash(data: $0)) }
        return Decoded(entries: entries, deletions: page.deleted, sha256: sha256)
    }
}

/// The mapping of a parsed page to ``DirectoryPage``, refusing what its `Decodable` form refuses (a missing,
/// unknown or mistyped member, a GUID that is not one), with the JSON pointer of the value, built only for a
/// refusal.
private enum PageReader {
    static let pageMembers: Set<String> = ["objects", "deleted"]
    static let objectMembers: Set<String> = [
        "guid", "kind", "dn", "parent_guid", "name", "sam_account_name", "user_principal_name", "dns_host_name",
        "display_name", "sid", "disabled", "primary_group_id", "group_type", "usn_changed", "members",
    ]
    static let memberMembers: Set<String> = ["guid", "dn", "sid"]

    static func page(_ value: JSONValue) throws(ConnectorRunError) -> DirectoryPage {
        let page = try members(of: value, known: pageMembers, at: "")
        let objects = try elements(page, "objects", at: "")
        var decoded: [DirectoryPageObject] = []
        decoded.reserveCapacity(objects.count)
        for (index, element) in objects.enumerated() {
            decoded.append(try object(element, at: "/objects/\(index)"))
        }
        let deleted = try elements(page, "deleted", at: "")
        var guids: [UUID] = []
        guids.reserveCapacity(deleted.count)
        for (index, element) in deleted.enumerated() {
            guard let guid = guid(element) else { throw refusal(element, isGUID: true, at: "/deleted/\(index)") }
            guids.append(guid)
        }
        return DirectoryPage(objects: decoded, deleted: guids)
    }

    static func object(
        _ value: JSONValue, at pointer: @autoclosure () -> String
    ) throws(ConnectorRunError) -> DirectoryPageObject {
        let object = try members(of: value, known: objectMembers, at: pointer())
        // Member by member in the order of the `Decodable` form, so the first refusal is the same.
        let guid = try requiredGUID(object, "guid", at: pointer())
        let kind = try string(object, "kind", at: pointer())
        let dn = try string(object, "dn", at: pointer())
        let parentGUID = try optionalGUID(object, "parent_guid", at: pointer())
        let name = try string(object, "name", at: pointer())
        let samAccountName = try optionalString(object, "sam_account_name", at: pointer())
        let userPrincipalName = try optionalString(object, "user_principal_name", at: pointer())
        let dnsHostName = try optionalString(object, "dns_host_name", at: pointer())
        let displayName = try optionalString(object, "display_name", at: pointer())
        let sid = try optionalString(object, "sid", at: pointer())
        let disabled = try bool(object, "disabled", at: pointer())
        let primaryGroupID = try optionalInteger(object, "primary_group_id", at: pointer())
        let groupType = try optionalInteger(object, "group_type", at: pointer())
        let usnChanged = try integer(object, "usn_changed", at: pointer())
        var members: [DirectoryPageMember]?
        if let listed = try optionalElements(object, "members", at: pointer()) {
            var decoded: [DirectoryPageMember] = []
            decoded.reserveCapacity(listed.count)
            for (index, element) in listed.enumerated() {
                decoded.append(try member(element, at: "\(pointer())/members/\(index)"))
            }
            members = decoded
        }
        return DirectoryPageObject(
            guid: guid, kind: kind, dn: dn, parentGUID: parentGUID, name: name, samAccountName: samAccountName,
            userPrincipalName: userPrincipalName, dnsHostName: dnsHostName, displayName: displayName, sid: sid,
            disabled: disabled, primaryGroupID: primaryGroupID, groupType: groupType, usnChanged: usnChanged,
            members: members
        )
    }

    static func member(
        _ value: JSONValue, at pointer: @autoclosure () -> String
    ) throws(ConnectorRunError) -> DirectoryPageMember {
        let member = try members(of: value, known: memberMembers, at: pointer())
        return DirectoryPageMember(
            guid: try optionalGUID(member, "guid", at: pointer()), dn: try string(member, "dn", at: pointer()),
            sid: try optionalString(member, "sid", at: pointer())
        )
    }

    // MARK: - Members

    /// An object's members, refusing one that `known` does not name.
    static func members(
        of value: JSONValue, known: Set<String>, at pointer: @autoclosure () -> String
    ) throws(ConnectorRunError) -> [String: JSONValue] {
        guard case .object(let members) = value else { throw refusal(value, at: pointer()) }
        for name in members.keys where !known.contains(name) {
            throw .invalid("Unknown field '\(name)'.", field: pointer() + JSONPointer([name]).description)
        }
        return members
    }

    /// A required member, `null` not allowed.
    static func required(
        _ members: [String: JSONValue], _ name: String, at pointer: () -> String
    ) throws(ConnectorRunError) -> JSONValue {
        guard let value = members[name] else {
            throw .invalid("The required member '\(name)' is missing.", field: "\(pointer())/\(name)")
        }
        return value
    }

    /// An optional member: absent and `null` are `nil`.
    static func optional(_ members: [String: JSONValue], _ name: String) -> JSONValue? {
        guard let value = members[name] else { return nil }
        if case .null = value { return nil }
        return value
    }

    static func string(
        _ members: [String: JSONValue], _ name: String, at pointer: @autoclosure () -> String
    ) throws(ConnectorRunError) -> String {
        let value = try required(members, name, at: pointer)
        guard case .string(let string) = value else { throw refusal(value, at: "\(pointer())/\(name)") }
        return string
    }

    static func optionalString(
        _ members: [String: JSONValue], _ name: String, at pointer: @autoclosure () -> String
    ) throws(ConnectorRunError) -> String? {
        guard let value = optional(members, name) else { return nil }
        guard case .string(let string) = value else { throw refusal(value, at: "\(pointer())/\(name)") }
        return string
    }

    static func requiredGUID(
        _ members: [String: JSONValue], _ name: String, at pointer: @autoclosure () -> String
    ) throws(ConnectorRunError) -> UUID {
        let value = try required(members, name, at: pointer)
        guard let guid = guid(value) else { throw refusal(value, isGUID: true, at: "\(pointer())/\(name)") }
        return guid
    }

    static func optionalGUID(
        _ members: [String: JSONValue], _ name: String, at pointer: @autoclosure () -> String
    ) throws(ConnectorRunError) -> UUID? {
        guard let value = optional(members, name) else { return nil }
        guard let guid = guid(value) else { throw refusal(value, isGUID: true, at: "\(pointer())/\(name)") }
        return guid
    }

    static func bool(
        _ members: [String: JSONValue], _ name: String, at pointer: @autoclosure () -> String
    ) throws(ConnectorRunError) -> Bool {
        let value = try required(members, name, at: pointer)
        guard case .bool(let bool) = value else { throw refusal(value, at: "\(pointer())/\(name)") }
        return bool
    }

    static func integer(
        _ members: [String: JSONValue], _ name: String, at pointer: @autoclosure () -> String
    ) throws(ConnectorRunError) -> Int64 {
        let value = try required(members, name, at: pointer)
        guard case .integer(let integer) = value else {
            throw refusal(value, isInteger: true, at: "\(pointer())/\(name)")
        }
        return integer
    }

    static func optionalInteger(
        _ members: [String: JSONValue], _ name: String, at pointer: @autoclosure () -> String
    ) throws(ConnectorRunError) -> Int64? {
        guard let value = optional(members, name) else { return nil }
        guard case .integer(let integer) = value else {
            throw refusal(value, isInteger: true, at: "\(pointer())/\(name)")
        }
        return integer
    }

    /// A required array member's elements.
    static func elements(
        _ members: [String: JSONValue], _ name: String, at pointer: @autoclosure () -> String
    ) throws(ConnectorRunError) -> [JSONValue] {
        let value = try required(members, name, at: pointer)
        guard case .array(let elements) = value else { throw refusal(value, at: "\(pointer())/\(name)") }
        return elements
    }

    static func optionalElements(
        _ members: [String: JSONValue], _ name: String, at pointer: @autoclosure () -> String
    ) throws(ConnectorRunError) -> [JSONValue]? {
        guard let value = optional(members, name) else { return nil }
        guard case .array(let elements) = value else { throw refusal(value, at: "\(pointer())/\(name)") }
        return elements
    }

    static func guid(_ value: JSONValue) -> UUID? {
        guard case .string(let text) = value else { return nil }
        return UUID(uuidString: text)
    }

    /// The refusal of a value of the wrong type, or of a string that is not a GUID where one is expected.
    static func refusal(
        _ value: JSONValue, isGUID: Bool = false, isInteger: Bool = false, at pointer: String
    ) -> ConnectorRunError {
        switch value {
        case .string where isGUID: .invalid("Must be a GUID in the standard string form.", field: pointer)
        case .number where isInteger: .invalid("Must be an integer of at most 64 bits.", field: pointer)
        default: .invalid("A value has the wrong type.", field: pointer)
        }
    }
}
