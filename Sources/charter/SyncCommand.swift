import ArgumentParser
import CharterCore
import CharterServer
import CharterServices
import CharterStore
import Foundation
import Logging

/// `charter sync`: runs one directory sync of one connection now, with a progress line.
struct SyncCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sync",
        abstract: "Run one directory sync now.",
        discussion: """
            Reads the connection's directory and applies it in one transaction, like the scheduler does; needs the \
            key-encryption key (CHARTER_KEK or CHARTER_KEK_FILE) to open the bind password. Without --full it runs \
            an incremental sync (a full one when there is no watermark yet). Exits non-zero when the run did not \
            succeed.
            """
    )

    @OptionGroup var options: CommonOptions

    @Option(help: "The tenant's id.")
    var tenant: String

    @Option(help: "The directory connection's id.")
    var connection: String

    @Flag(help: "Read everything (mark and sweep) instead of the changes since the watermark.")
    var full = false

    @Flag(help: "Apply deletions beyond the connection's deletion threshold.")
    var confirmDeletions = false

    @Flag(help: "Print the run as one JSON object.")
    var json = false

    func run() async throws {
        guard let tenantID = TenantID(tenant) else { throw ValidationError("--tenant must be a UUID") }
        guard let connectionID = DirectoryConnectionID(connection) else {
            throw ValidationError("--connection must be a UUID")
        }
        let reader = try await options.reader()
        var config: ServerConfiguration
        do {
            config = try ServerConfiguration(reader: reader)
        } catch let error as ConfigurationError {
            throw ValidationError(error.description)
        }
        let logger = try await LogSetup.bootstrapCommand(configFile: options.config)
        let kind: SyncRun.Kind = full ? .full : .incremental
        let confirms = confirmDeletions
        let url = try await options.ownerURL()
        config.databaseURL = url
        let configuration = config
        let showsProgress = !json
        let run = try await withDatabase(url: url, logger: logger) { database in
            let engine = directorySyncEngine(
                configuration, sealer: try keyEncryptionKeys(configuration), database: database, logger: logger
            )
            guard engine != nil else { throw ValidationError("no key-encryption key: set CHARTER_KEK or CHARTER_KEK_FILE") }
            let directory = DirectoryService(
                database: database, engine: engine, runner: nil,
                connectionsPerTenant: configuration.limits.quotas.directoryConnectionsPerTenant
            )
            return try await directory.syncNow(
                connectionID, of: tenantID, kind: kind, confirmsDeletions: confirms,
                by: Caller(principal: nil, actor: AuditRecord.Actor(id: nil, name: cliActor), logger: logger)
            ) { objects in
                if showsProgress { FileHandle.standardError.write(Data("\r\(objects) objects read".utf8)) }
            }
        }
        if json {
            try printJSON(Self.summary(run))
        } else {
            FileHandle.standardError.write(Data("\n".utf8))
            let seconds = run.finishedAt.map { $0.timeIntervalSince(run.startedAt) } ?? 0
            print("\(run.kind.rawValue) sync \(run.status.rawValue): \(run.objectsRead) objects read in \(String(format: "%.2f", seconds)) s (run \(run.id))")
            for (kind, tally) in run.counts.byKind.sorted(by: { $0.key < $1.key }) {
                print("  \(kind): \(tally.added) added, \(tally.changed) changed, \(tally.moved) moved, \(tally.deleted) deleted")
            }
            if let error = run.error { print("  \(error)") }
        }
        guard run.status == .succeeded else { throw ExitCode.failure }
    }

    static func summary(_ run: SyncRun) -> [String: any Sendable] {
        var object: [String: any Sendable] = [
            "id": run.id.description, "kind": run.kind.rawValue, "status": run.status.rawValue,
            "objects_read": run.objectsRead,
            "seconds": run.finishedAt.map { $0.timeIntervalSince(run.startedAt) } ?? 0,
        ]
        if let error = run.error { object["error"] = error }
        return object
    }
}
