package import Foundation
import PostgresNIO

/// The challenges devices have spent (token renewal, re-enrollment proof), by the SHA-256 of the nonce.
///
/// Challenges are minted without a row (``CharterBundle/ServerChallenges``); a row is written only when a valid
/// signature over one is presented, so each is used at most once, and it lives until the challenge would have
/// expired anyway.
package struct AgentChallengeRepository: Sendable {
    let tx: Transaction

    /// Records a challenge as used, after removing rows of expired ones.
    ///
    /// - Returns: `false` when it had been used before.
    package func spend(nonceHash: [UInt8], expiresAt: Date, now: Date) async throws -> Bool {
        try await tx.query("DELETE FROM agent_challenges WHERE expires_at <= \(now)")
        let rows = try await tx.query(
            """
            INSERT INTO agent_challenges (nonce_hash, expires_at) VALUES (\(Data(nonceHash)), \(expiresAt))
            ON CONFLICT (nonce_hash) DO NOTHING RETURNING 1
            """
        )
        var inserted = false
        for try await _ in rows { inserted = true }
        return inserted
    }
}

extension Transaction {
    package var agentChallenges: AgentChallengeRepository { AgentChallengeRepository(tx: self) }
}
