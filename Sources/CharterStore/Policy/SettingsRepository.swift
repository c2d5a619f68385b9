package import CharterCore
package import Foundation
import PostgresNIO

/// The global settings of the tenant selected on the transaction.
package struct SettingsRepository: Sendable {
    let tx: Transaction

    typealias Row = (String, Int64, Date, String, [String])

    static func stored(_ row: Row, tenant: TenantID) throws -> StoredSettings {
        let settings: Settings
        do {
            settings = try Settings.decode(from: Data(row.0.utf8))
        } catch {
            throw PolicyStoreError.corruptDocument(table: "tenant_settings", id: tenant.description, issues: error)
        }
        return StoredSettings(
            settings: settings, version: row.1, updatedAt: row.2, updatedBy: row.3,
            sections: Set(row.4.compactMap(Settings.Section.init(rawValue:)))
        )
    }

    /// The tenant's settings; ``StoredSettings/defaults`` when it never saved any.
    ///
    /// - Parameter forUpdate: Locks the row until the transaction ends, so a replacement cannot interleave.
    /// - Throws: ``PolicyStoreError/corruptDocument(table:id:issues:)`` when the stored document no longer decodes.
    package func get(_ tenant: TenantID, forUpdate: Bool = false) async throws -> StoredSettings {
        let rows = try await tx.query(
            """
            SELECT document, version, updated_at, updated_by, sections FROM tenant_settings
            WHERE tenant_id = \(tenant.rawValue) \(unescaped: forUpdate ? "FOR UPDATE" : "")
            """
        )
        for try await row in rows.decode(Row.self) { return try Self.stored(row, tenant: tenant) }
        return .defaults
    }

    /// Replaces the tenant's settings if their version still is `expectedVersion` (when given).
    ///
    /// - Parameter sections: The sections the new document contained (see ``StoredSettings/sections``).
    /// - Returns: The settings before and after the replacement.
    /// - Throws: ``StoreError/versionMismatch(current:)`` when the settings changed since they were read.
    package func replace(
        _ tenant: TenantID,
        with settings: Settings,
        sections: Set<Settings.Section>,
        expectedVersion: Int64?,
        by actor: AuditRecord.Actor,
        at now: Date
    ) async throws -> (before: StoredSettings, after: StoredSettings) {
        let before = try await get(tenant, forUpdate: true)
        if let expectedVersion, expectedVersion != before.version {
            throw StoreError.versionMismatch(current: before.version)
        }
        let document = String(decoding: settings.canonicalData, as: UTF8.self)
        let sectionNames = sections.sorted().map(\.rawValue)
        // Two first saves racing both see version 0; the loser's conditional update matches no row.
        let rows = try await tx.query(
            """
            INSERT INTO tenant_settings AS s (tenant_id, document, version, updated_at, updated_by_id, updated_by,
                sections)
            VALUES (\(tenant.rawValue), \(document), 1, \(now), \(actor.id), \(actor.name), \(sectionNames))
            ON CONFLICT (tenant_id) DO UPDATE
                SET document = excluded.document, version = s.version + 1, updated_at = excluded.updated_at,
                    updated_by_id = excluded.updated_by_id, updated_by = excluded.updated_by,
                    sections = excluded.sections
                WHERE s.version = \(before.version)
            RETURNING document, version, updated_at, updated_by, sections
            """
        )
        for try await row in rows.decode(Row.self) {
            return (before, try Self.stored(row, tenant: tenant))
        }
        throw StoreError.versionMismatch(current: before.version)
    }
}
