package import Foundation
import Crypto

/// One numbered SQL file of `migrations/`, as shipped inside the binary.
package struct Migration: Hashable, Sendable {
    /// The number the file name starts with (`0001_create_tenancy.sql` → 1).
    package var version: Int
    package var name: String
    package var sql: String

    /// Hex SHA-256 of the file's bytes; an applied migration whose file changed is refused.
    package var checksum: String {
        SHA256.hash(data: Data(sql.utf8)).map { String(format: "%02x", $0) }.joined()
    }

    package init(version: Int, name: String, sql: String) {
        self.version = version
        self.name = name
        self.sql = sql
    }

    /// The migrations bundled with this build, in order.
    ///
    /// - Throws: ``MigrationError/malformedFileName(_:)`` or ``MigrationError/duplicateVersion(_:)``.
    package static func bundled() throws -> [Migration] {
        guard let directory = Bundle.module.url(forResource: "Migrations", withExtension: nil) else {
            throw MigrationError.missingResources
        }
        return try load(from: directory)
    }

    /// Reads every `NNNN_name.sql` file of a directory.
    package static func load(from directory: URL) throws -> [Migration] {
        let files = try FileManager.default.contentsOfDirectory(atPath: directory.path)
            .filter { $0.hasSuffix(".sql") }
        var migrations: [Migration] = []
        for file in files {
            let stem = file.dropLast(4)
            guard let underscore = stem.firstIndex(of: "_"), let version = Int(stem[..<underscore]), version > 0
            else {
                throw MigrationError.malformedFileName(file)
            }
            let sql = try String(contentsOf: directory.appendingPathComponent(file), encoding: .utf8)
            migrations.append(Migration(version: version, name: String(stem), sql: sql))
        }
        migrations.sort { $0.version < $1.version }
        for (previous, next) in zip(migrations, migrations.dropFirst()) where previous.version == next.version {
            throw MigrationError.duplicateVersion(next.version)
        }
        return migrations
    }
}

/// Why migrations could not be applied.
package enum MigrationError: Error, Hashable, Sendable, CustomStringConvertible {
    case missingResources
    case malformedFileName(String)
    case duplicateVersion(Int)
    /// An applied migration's file differs from what was applied.
    case checksumMismatch(version: Int, name: String)
    /// The database has migrations this build does not know: it is older than the schema.
    case unknownApplied(version: Int)
    case failed(name: String, message: String)

    package var description: String {
        switch self {
        case .missingResources:
            "the migrations are missing from this build; rebuild charter"
        case .malformedFileName(let file):
            "migration file '\(file)' is not named NNNN_description.sql"
        case .duplicateVersion(let version):
            "two migration files share the number \(version)"
        case .checksumMismatch(let version, let name):
            "migration \(version) (\(name)) was edited after it was applied; restore it and add a new migration instead"
        case .unknownApplied(let version):
            "the database has migration \(version), which this build does not know; run a newer charter"
        case .failed(let name, let message):
            "migration \(name) failed: \(message)"
        }
    }
}
