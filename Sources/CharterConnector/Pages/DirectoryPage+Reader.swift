package import CharterAgentWire
import CharterCore
import CharterJSON
package import CharterDirectory
import CompressNIO
import Foundation
package import NIOCore
import NIOFoundationCompat

extension DirectoryPageObject {
    /// The wire form of an object the reader returned: the one place a `DirectoryObject` becomes a page object.
    ///
    /// `parentDN` is not sent: the service derives placement from `parent_guid` and `dn`.
    package init(_ object: DirectoryObject) {
        self.init(
            guid: object.guid, kind: object.kind.rawValue, dn: object.dn, parentGUID: object.parentGUID,
            name: object.name, samAccountName: object.samAccountName, userPrincipalName: object.userPrincipalName,
            dnsHostName: object.dnsHostName, displayName: object.displayName, sid: object.sid?.description,
            disabled: object.isDisabled, primaryGroupID: object.primaryGroupID.map(Int64.init),
            groupType: object.groupType.map(Int64.init), usnChanged: object.usnChanged,
            members: object.members?.map { DirectoryPageMember(guid: $0.guid, dn: $0.dn, sid: $0.sid?.description) }
        )
    }
}

extension DirectoryPage {
    /// The page of one reader batch.
    package init(_ batch: DirectoryReader.Batch) {
        self.init(objects: batch.objects.map(DirectoryPageObject.init), deleted: batch.deletedGUIDs)
    }

    /// The body of `PUT …/pages/{page}`: the page's JSON, gzip-compressed.
    ///
    /// The same page always gives the same bytes (members sorted), so a retried upload is a replay the service
    /// answers `200` again.
    package func gzipped() throws -> ByteBuffer {
        var json = ByteBuffer(bytes: jsonBytes())
        return try json.compress(with: .gzip())
    }

    /// The page's JSON, written directly: the bytes `ConnectorJSON.encode` gives (members sorted, an object's
    /// `null`s written, a member's left out, `/` unescaped, GUIDs in upper case), at a fraction of `JSONEncoder`'s cost.
    package func jsonBytes() -> [UInt8] {
        var output: [UInt8] = []
        output.reserveCapacity(objects.count * 640 + deleted.count * 40 + 32)
        output.append(contentsOf: #"{"deleted":["#.utf8)
        for (index, guid) in deleted.enumerated() {
            if index > 0 { output.append(UInt8(ascii: ",")) }
            PageWriter.write(guid, to: &output)
        }
        output.append(contentsOf: #"],"objects":["#.utf8)
        for (index, object) in objects.enumerated() {
            if index > 0 { output.append(UInt8(ascii: ",")) }
            PageWriter.write(object, to: &output)
        }
        output.append(contentsOf: "]}".utf8)
        return output
    }

    /// Decodes a gzip-compressed page body, refusing one that inflates past `maximumBytes`.
    package static func decode(gzipped body: ByteBuffer, maximumBytes: Int = 64 << 20) throws -> DirectoryPage {
        var compressed = body
        let json = try compressed.decompress(with: .gzip(), maxSize: maximumBytes)
        return try ConnectorJSON.decoder().decode(DirectoryPage.self, from: Data(buffer: json))
    }
}

/// The writer of ``DirectoryPage/jsonBytes()``: members in the sorted order `JSONEncoder` gives them.
private enum PageWriter {
    static func write(_ object: DirectoryPageObject, to output: inout [UInt8]) {
        output.append(contentsOf: #"{"disabled":"#.utf8)
        output.append(contentsOf: (object.disabled ? "true" : "false").utf8)
        output.append(contentsOf: #","display_name":"#.utf8)
        write(object.displayName, to: &output)
        output.append(contentsOf: #","dn":"#.utf8)
        JSONValue.write(string: object.dn, to: &output)
        output.append(contentsOf: #","dns_host_name":"#.utf8)
        write(object.dnsHostName, to: &output)
        output.append(contentsOf: #","group_type":"#.utf8)
        write(object.groupType, to: &output)
        output.append(contentsOf: #","guid":"#.utf8)
        write(object.guid, to: &output)
        output.append(contentsOf: #","kind":"#.utf8)
        JSONValue.write(string: object.kind, to: &output)
        output.append(contentsOf: #","members":"#.utf8)
        if let members = object.members {
            output.append(UInt8(ascii: "["))
            for (index, member) in members.enumerated() {
                if index > 0 { output.append(UInt8(ascii: ",")) }
                // A member's absent GUID or SID is left out, as its synthesized `Encodable` form does.
                output.append(contentsOf: #"{"dn":"#.utf8)
                JSONValue.write(string: member.dn, to: &output)
                if let guid = member.guid {
                    output.append(contentsOf: #","guid":"#.utf8)
                    write(guid, to: &output)
                }
                if let sid = member.sid {
                    output.append(contentsOf: #","sid":"#.utf8)
                    JSONValue.write(string: sid, to: &output)
                }
                output.append(UInt8(ascii: "}"))
            }
            output.append(UInt8(ascii: "]"))
        } else {
            output.append(contentsOf: "null".utf8)
        }
        output.append(contentsOf: #","name":"#.utf8)
        JSONValue.write(string: object.name, to: &output)
        output.append(contentsOf: #","parent_guid":"#.utf8)
        if let parent = object.parentGUID { write(parent, to: &output) } else { output.append(contentsOf: "null".utf8) }
        output.append(contentsOf: #","primary_group_id":"#.utf8)
        write(object.primaryGroupID, to: &output)
        output.append(contentsOf: #","sam_account_name":"#.utf8)
        write(object.samAccountName, to: &output)
        output.append(contentsOf: #","sid":"#.utf8)
        write(object.sid, to: &output)
        output.append(contentsOf: #","user_principal_name":"#.utf8)
        write(object.userPrincipalName, to: &output)
        output.append(contentsOf: #","usn_changed":"#.utf8)
        JSONValue.write(integer: object.usnChanged, to: &output)
        output.append(UInt8(ascii: "}"))
    }

    static func write(_ string: String?, to output: inout [UInt8]) {
        if let string { JSONValue.write(string: string, to: &output) } else { output.append(contentsOf: "null".utf8) }
    }

    static func write(_ integer: Int64?, to output: inout [UInt8]) {
        if let integer { JSONValue.write(integer: integer, to: &output) } else { output.append(contentsOf: "null".utf8) }
    }

    static let hex = Array("0123456789ABCDEF".utf8)

    /// A GUID as `UUID.uuidString` writes it (upper case), quoted.
    static func write(_ guid: UUID, to output: inout [UInt8]) {
        output.append(UInt8(ascii: "\""))
        withUnsafeBytes(of: guid.uuid) { bytes in
            for (index, byte) in bytes.enumerated() {
                if index == 4 || index == 6 || index == 8 || index == 10 { output.append(UInt8(ascii: "-")) }
                output.append(hex[Int(byte >> 4)])
                output.append(hex[Int(byte & 0x0F)])
            }
        }
        output.append(UInt8(ascii: "\""))
    }
}
