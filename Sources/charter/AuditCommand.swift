import ArgumentParser
import CharterCore
import CharterStore
import Foundation
import Logging

/// `charter audit verify`: checks a tenant's (or an MSP's) audit hash chain and names the first broken link.
struct AuditCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit",
        abstract: "Inspect the tamper-evident audit logs.",
        subcommands: [Verify.self]
    )

    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Verify an audit log's hash chain; exits 1 at the first broken link.",
            discussion: "Reads as the schema owner (CHARTER_DATABASE_MIGRATION_URL), in the chain's tenant or MSP."
        )

        @OptionGroup var options: CommonOptions

        @Option(help: "The tenant whose log to verify.")
        var tenant: String?

        @Option(help: "The MSP whose own log to verify (its MSP-wide keys' actions).")
        var msp: String?

        @Flag(help: "Print one JSON object instead of text.")
        var json = false

        func validate() throws {
            guard (tenant == nil) != (msp == nil) else { throw ValidationError("give exactly one of --tenant and --msp") }
            if let tenant, TenantID(tenant) == nil { throw ValidationError("--tenant must be a UUID") }
            if let msp, MSPID(msp) == nil { throw ValidationError("--msp must be a UUID") }
        }

        func run() async throws {
            let chain: AuditLog.Chain =
                if let tenant, let id = TenantID(tenant) { .tenant(id) } else if let msp, let id = MSPID(msp) { .msp(id) }
                else { throw ValidationError("give exactly one of --tenant and --msp") }
            let logger = try await LogSetup.bootstrapCommand(configFile: options.config)
            let result = try await withDatabase(url: try await options.ownerURL(), logger: logger) { database in
                switch chain {
                case .tenant(let tenant):
                    let msp = try await database.withoutTenant(logger: logger) { tx in try await tx.tenants.msp(of: tenant) }
                    return try await database.withTenant(tenant, msp: msp, logger: logger) { tx in
                        try await tx.audit.verify(chain)
                    }
                case .msp(let msp):
                    return try await database.withMSP(msp, logger: logger) { tx in try await tx.audit.verify(chain) }
                }
            }
            if json {
                var object: [String: any Sendable] = ["valid": result.firstBreak == nil, "events_checked": result.eventsChecked]
                if let broken = result.firstBreak {
                    object["first_broken_sequence"] = broken.sequence
                    object["reason"] = broken.reason
                }
                try printJSON(object)
            } else if let broken = result.firstBreak {
                print("audit log broken at event \(broken.sequence): \(broken.reason) (\(result.eventsChecked) events read)")
            } else {
                print("audit log intact: \(result.eventsChecked) events, every link verified")
            }
            if result.firstBreak != nil { throw ExitCode(1) }
        }
    }
}
