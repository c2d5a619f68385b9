import CharterDirectory
import Foundation
import Testing

extension LDAPConnection {
    /// The objectGUID of `dn`, as the reader reports GUIDs (CharterServerTests has the ObjectGUID form).
    func guid(of dn: String) async throws -> UUID {
        let entry = try #require(try await read(dn, attributes: ["objectGUID"]))
        return try #require(entry.value("objectGUID").flatMap { UUID(activeDirectoryBytes: $0) })
    }
}
