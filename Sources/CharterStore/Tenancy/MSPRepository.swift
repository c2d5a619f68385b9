package import CharterCore
import Foundation
import PostgresNIO

/// MSPs. Creating one is a bootstrap action of the `charter` CLI, run as the schema owner.
package struct MSPRepository: Sendable {
    let tx: Transaction

    package func get(_ id: MSPID) async throws -> MSP {
        let rows = try await tx.query("SELECT id, name, created_at FROM msps WHERE id = \(id.rawValue)")
        for try await (id, name, createdAt) in rows.decode((UUID, String, Date).self) {
            return MSP(id: MSPID(id), name: name, createdAt: createdAt)
        }
        throw StoreError.notFound
    }

    package func create(_ msp: MSP) async throws {
        try await tx.query(
            "INSERT INTO msps (id, name, created_at) VALUES (\(msp.id.rawValue), \(msp.name), \(msp.createdAt))"
        )
    }
}
