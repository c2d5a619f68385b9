package import Foundation
import PostgresNIO

/// Single-use challenges that agents sign to prove they hold a device key (token renewal, re-enrollment).
///
/// Only the SHA-256 of a nonce is stored; a challenge is consumed by the first use, valid or not, and
/// expired ones are removed whenever a new one is issued.
package struct AgentChallengeRepository: Sendable {
    let tx: Transaction

    /// Stores a new challenge, after removing expired ones.
    package func issue(nonceHash: [UInt8], expiresAt: Date, now: Date) async throws {
        try await tx.query("DELETE FROM agent_challenges WHERE expires_at <= \(now)")
        try await tx.query(
            "INSERT INTO agent_challenges (nonce_hash, expires_at) VALUES (\(Data(nonceHash)), \(expiresAt))"
        )
    }

    /// Consumes a challenge.
    ///
    /// - Returns: Whether it existed and had not expired.
    package func consume(nonceHash: [UInt8], now: Date) async throws -> Bool {
        let rows = try await tx.query(
            "DELETE FROM agent_challenges WHERE nonce_hash = \(Data(nonceHash)) RETURNING expires_at"
        )
        var valid = false
        for try await expiresAt in rows.decode(Date.self) { valid = expiresAt > now }
        return valid
    }
}

extension Transaction {
    package var agentChallenges: AgentChallengeRepository { AgentChallengeRepository(tx: self) }
}
