import ArgumentParser
import CharterCore
import CharterServer
import Foundation
import Logging

/// `charter apikey create`: creates an API key from the command line (break-glass, automation).
struct APIKeyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "apikey",
        abstract: "Manage API keys.",
        subcommands: [Create.self]
    )

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create an API key (printed once) for an MSP or one of its tenants."
        )

        @OptionGroup var options: CommonOptions

        @Option(help: "The MSP's id.")
        var msp: String

        @Option(help: "Scope the key to this tenant of the MSP; MSP-wide if absent.")
        var tenant: String?

        @Option(help: "owner, admin, approver or auditor.")
        var role: String

        @Option(help: "What the key is for.")
        var name: String

        @Flag(help: "Print one JSON object instead of text.")
        var json = false

        func run() async throws {
            guard let mspID = MSPID(msp) else { throw ValidationError("--msp must be a UUID") }
            guard let role = Role(rawValue: role) else {
                throw ValidationError("--role must be one of owner, admin, approver, auditor")
            }
            var scope = Principal.Scope.msp(mspID)
            if let tenant {
                guard let tenantID = TenantID(tenant) else { throw ValidationError("--tenant must be a UUID") }
                scope = .tenant(mspID, tenantID)
            }
            let logger = try await LogSetup.bootstrapCommand(configFile: options.config)
            let name = name
            let finalScope = scope
            let token = try await withDatabase(url: try await options.ownerURL(), logger: logger) { database in
                try await Bootstrap(database: database, logger: logger, actorName: cliActor)
                    .createAPIKey(name: name, role: role, scope: finalScope)
            }
            if json {
                try printJSON(["api_key": token, "msp_id": mspID.description, "role": role.rawValue])
            } else {
                print("API key (shown once, store it now): \(token)")
            }
        }
    }
}
