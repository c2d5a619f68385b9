import CharterCore
import CharterServer
import CharterServices
import CharterStore
import Configuration
import Logging

/// The `bootstrap.*` configuration keys: an owner API key that `charter migrate` (and `serve --migrate`) makes
/// sure exists, so a deployment can hold its first key before any API call.
///
/// - `bootstrap.api_key` (string, secret): `chtr_<32 hex digits>_<43 base64url characters>`. When no API key
///   with its id exists, an MSP is created with an owner principal holding exactly this key.
/// - `bootstrap.msp_name` (string, default `Default`): the name of that MSP.
struct BootstrapKeyConfiguration: Sendable {
    var key: BootstrapAPIKey
    var mspName: String

    /// Reads the keys; `nil` when no bootstrap key is configured.
    ///
    /// - Throws: ``CLIFailure`` naming the key whose value is unacceptable.
    static func read(_ reader: ConfigReader) throws -> Self? {
        guard let raw = reader.string(forKey: "bootstrap.api_key", isSecret: true), !raw.isEmpty else { return nil }
        let key: BootstrapAPIKey
        do {
            key = try BootstrapAPIKey(parsing: raw)
        } catch {
            throw CLIFailure(ConfigurationError(key: "bootstrap.api_key", problem: error.description).description)
        }
        // An empty value (compose's `${VAR:-}`) means the default, as for the key itself.
        let configuredName = reader.string(forKey: "bootstrap.msp_name") ?? ""
        let rawName = configuredName.isEmpty ? "Default" : configuredName
        guard let name = DisplayName.validated(rawName) else {
            throw CLIFailure(
                ConfigurationError(
                    key: "bootstrap.msp_name",
                    problem: "must have 1 to \(DisplayName.maximumLength) characters and no control characters"
                ).description
            )
        }
        return Self(key: key, mspName: name)
    }

    /// Creates the MSP and key unless a key with this id exists; returns the line that says what happened.
    func apply(to database: Database, logger: Logger) async throws -> String {
        let actor = AuditRecord.Actor(id: nil, name: "bootstrap")
        do {
            switch try await database.ensureBootstrapKey(key, mspName: mspName, actor: actor, logger: logger) {
            case .existed:
                return "bootstrap API key \(key.keyID) exists; nothing changed"
            case .created(let msp):
                return "bootstrap API key \(key.keyID) created: owner of the new MSP \(mspName) (\(msp))"
            }
        } catch let error as StoreError {
            throw CLIFailure("bootstrap API key: the database refused it (\(error))")
        }
    }
}
