import ArgumentParser
import CharterCore
import CharterServer
import Foundation
import Logging

/// `charter msp create`: bootstraps an MSP and its first owner key.
struct MSPCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "msp",
        abstract: "Manage MSPs.",
        subcommands: [Create.self]
    )

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create an MSP with an owner API key (printed once).",
            discussion: "Runs as the schema owner. With --json prints {\"msp_id\": ..., \"api_key\": ...}."
        )

        @OptionGroup var options: CommonOptions

        @Option(help: "The MSP's display name.")
        var name: String

        @Flag(help: "Print one JSON object instead of text.")
        var json = false

        func run() async throws {
            let logger = try await LogSetup.bootstrapCommand(configFile: options.config)
            let url = try await options.ownerURL()
            let name = name
            let (msp, token) = try await withDatabase(url: url, logger: logger) { database in
                try await Bootstrap(database: database, logger: logger, actorName: cliActor).createMSP(name: name)
            }
            if json {
                try printJSON(["msp_id": msp.id.description, "api_key": token])
            } else {
                print("MSP \(msp.name): \(msp.id)")
                print("Owner API key (shown once, store it now): \(token)")
            }
        }
    }
}
