package import Foundation

/// One admin or system action, as it enters the audit log.
///
/// The store appends it to the tenant's (or MSP's) hash chain; ``before`` and ``after`` are JSON documents
/// describing the target, with secrets already removed.
package struct AuditRecord: Hashable, Sendable {
    /// Who acted: an API key (its principal's id and name), a person (their id and display name, and how
    /// their identity provider names them), the CLI or the service itself.
    package struct Actor: Hashable, Sendable {
        /// A person, as their identity provider named them when they acted.
        package struct Person: Hashable, Sendable {
            /// The provider's issuer identifier (`iss`).
            package var issuer: String
            /// The provider's identifier of the person (`sub`).
            package var subject: String
            package var email: String?

            package init(issuer: String, subject: String, email: String?) {
                self.issuer = issuer
                self.subject = subject
                self.email = email
            }
        }

        package var id: UUID?
        package var name: String
        package var requestID: String?
        package var clientIP: String?
        /// The person who acted; `nil` for an API key, the CLI or the service.
        package var person: Person?

        package init(
            id: UUID?, name: String, requestID: String? = nil, clientIP: String? = nil, person: Person? = nil
        ) {
            self.id = id
            self.name = name
            self.requestID = requestID
            self.clientIP = clientIP
            self.person = person
        }

        /// The service itself (schedulers, expiry jobs).
        package static let system = Actor(id: nil, name: "system")
    }

    package var id: AuditEventID
    package var occurredAt: Date
    package var actor: Actor
    /// Dotted verb, e.g. `tenant.renamed`, `api_key.created`.
    package var action: String
    package var targetType: String
    package var targetID: String
    package var before: String?
    package var after: String?

    package init(
        id: AuditEventID = .random(),
        occurredAt: Date,
        actor: Actor,
        action: String,
        targetType: String,
        targetID: String,
        before: String? = nil,
        after: String? = nil
    ) {
        self.id = id
        self.occurredAt = occurredAt
        self.actor = actor
        self.action = action
        self.targetType = targetType
        self.targetID = targetID
        self.before = before
        self.after = after
    }
}

/// An audit record as stored: its place in the chain and the hashes that link it.
package struct AuditEvent: Hashable, Sendable {
    package var sequence: Int64
    package var record: AuditRecord
    package var previousHash: [UInt8]
    package var hash: [UInt8]

    package init(sequence: Int64, record: AuditRecord, previousHash: [UInt8], hash: [UInt8]) {
        self.sequence = sequence
        self.record = record
        self.previousHash = previousHash
        self.hash = hash
    }
}
