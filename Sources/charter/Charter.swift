import ArgumentParser

/// The one executable: `charter serve | migrate | msp | tenant | apikey | sync | audit | agent | …`.
@main
struct Charter: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "charter",
        abstract: "Endpoint privilege management for MSPs.",
        discussion: "Configuration comes from CHARTER_* environment variables and an optional JSON file; see docs/operations.md.",
        subcommands: [
            Serve.self, Migrate.self, MSPCommand.self, TenantCommand.self, APIKeyCommand.self, SyncCommand.self,
            AuditCommand.self, HealthcheckCommand.self, SleepCommand.self, AgentCommand.self, ConnectorCommand.self,
        ]
    )
}
