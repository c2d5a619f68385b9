import ArgumentParser
import CharterCore
import CharterServer
import Foundation
import Logging

/// `charter tenant create`: creates a tenant without an API key (bootstrap, demos).
struct TenantCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tenant",
        abstract: "Manage tenants.",
        subcommands: [Create.self]
    )

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a tenant of an MSP.")

        @OptionGroup var options: CommonOptions

        @Option(help: "The MSP's id.")
        var msp: String

        @Option(help: "The tenant's display name.")
        var name: String

        @Flag(help: "Print one JSON object instead of text.")
        var json = false

        func run() async throws {
            guard let mspID = MSPID(msp) else { throw ValidationError("--msp must be a UUID") }
            let logger = try await LogSetup.bootstrapCommand(configFile: options.config)
            let name = name
            let tenant = try await withDatabase(url: try await options.ownerURL(), logger: logger) { database in
                try await Bootstrap(database: database, logger: logger, actorName: cliActor)
                    .createTenant(msp: mspID, name: name)
            }
            if json {
                try printJSON(["tenant_id": tenant.id.description, "msp_id": mspID.description, "name": tenant.name])
            } else {
                print("Tenant \(tenant.name): \(tenant.id)")
            }
        }
    }
}
