package import CharterAgentWire
import CharterCore
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
        var json = ByteBuffer(data: try ConnectorJSON.encode(self))
        return try json.compress(with: .gzip())
    }

    /// Decodes a gzip-compressed page body, refusing one that inflates past `maximumBytes`.
    package static func decode(gzipped body: ByteBuffer, maximumBytes: Int = 64 << 20) throws -> DirectoryPage {
        var compressed = body
        let json = try compressed.decompress(with: .gzip(), maxSize: maximumBytes)
        return try ConnectorJSON.decoder().decode(DirectoryPage.self, from: Data(buffer: json))
    }
}
