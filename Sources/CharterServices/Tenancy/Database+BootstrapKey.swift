package import CharterCore
package import CharterStore
import Foundation
package import Logging

extension Database {
    /// Makes sure the configured bootstrap key exists: if no key has its id, creates an MSP named `mspName`
    /// with an owner principal that holds exactly this key, audited in the MSP's chain.
    ///
    /// Idempotent and safe from several replicas at once: a replica that loses the race sees the key's id
    /// taken and changes nothing. A key that was revoked stays revoked. Runs as the schema owner (only it may
    /// ask whether a key id exists anywhere).
    ///
    /// - Parameters:
    ///   - key: the validated key.
    ///   - mspName: the new MSP's display name, already validated.
    ///   - actor: who the audit log names.
    /// - Returns: whether the key existed or what was created.
    /// - Throws: ``StoreError`` when the database refuses.
    package func ensureBootstrapKey(
        _ key: BootstrapAPIKey,
        mspName: String,
        actor: AuditRecord.Actor,
        logger: Logger
    ) async throws -> BootstrapKeyOutcome {
        let caller = Caller(principal: nil, actor: actor, logger: logger)
        do {
            let msp = MSP(id: .random(), name: mspName, createdAt: Date())
            return try await withMSP(msp.id, logger: logger) { tx in
                guard try await !tx.apiKeys.exists(key.keyID) else { return .existed }
                let now = msp.createdAt
                try await tx.msps.create(msp)
                try await tx.audit.record(
                    "msp.created", on: ("msp", msp.id.description),
                    after: AuditJSON.encode(["id": msp.id.description, "name": mspName]), by: caller, at: now,
                    in: .msp(msp.id)
                )
                let apiKey = APIKey(
                    id: key.keyID,
                    principalID: .random(), name: "\(mspName) owner", grant: Grant(role: .owner, scope: .msp(msp.id)),
                    createdAt: now, createdBy: nil, expiresAt: nil, revokedAt: nil, lastUsedAt: nil
                )
                try await tx.apiKeys.create(apiKey, secretHash: key.secretHash)
                try await tx.audit.record(
                    "api_key.created", on: ("api_key", key.keyID.description), after: apiKey.auditSnapshot,
                    by: caller, at: now, in: .msp(msp.id)
                )
                return .created(msp.id)
            }
        } catch StoreError.alreadyExists {
            // Another replica inserted the same key id between our check and our insert; its transaction won.
            return .existed
        }
    }
}
