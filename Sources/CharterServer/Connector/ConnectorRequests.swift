import CharterAgentWire
import CharterBundle
import CharterCore
import CharterServices
import CharterStore
import Foundation

// MARK: - Validation

extension ConnectorEnrollRequest {
    /// The validated enrollment; every failure names its field.
    func validated(protocolVersion: Int) throws -> ConnectorService.Enrollment {
        guard let secret = EnrollmentTokenSecret(parsing: enrollmentToken) else {
            throw ConnectorError.invalidEnrollmentToken
        }
        // Checked in this order, so that the first bad member is the one reported.
        let name = try AgentValidation.text(self.name, field: "/name", maximum: 200)
        let hostname = try AgentValidation.text(self.hostname, field: "/hostname", maximum: 255)
        let version = try AgentValidation.text(self.version, field: "/version", maximum: 64)
        let signingKey = try AgentValidation.key(self.signingKey, curve: .ed25519, field: "/signing_key")
        let proof = try self.proof.map { proof in
            guard let connector = ConnectorID(proof.connectorID) else {
                throw Problem(
                    .validationFailed, "proof.connector_id must be the connector id (a UUID).",
                    field: "/proof/connector_id"
                )
            }
            return ConnectorService.Enrollment.Proof(connector: connector, nonce: proof.nonce, signature: proof.signature)
        }
        return ConnectorService.Enrollment(
            secret: secret, name: name, hostname: hostname, version: version, protocolVersion: protocolVersion,
            signingKey: signingKey.x, proof: proof
        )
    }
}

extension ConnectorHeartbeat {
    /// How many domain controllers one heartbeat may report.
    static let maximumDomainControllers = 10

    /// The validated host name and version, and the domain controllers as the JSON array stored.
    func validated() throws -> (hostname: String, version: String, domainControllers: String) {
        let hostname = try AgentValidation.text(self.hostname, field: "/hostname", maximum: 255)
        let version = try AgentValidation.text(self.version, field: "/version", maximum: 64)
        guard domainControllers.count <= Self.maximumDomainControllers else {
            throw Problem(
                .validationFailed, "At most \(Self.maximumDomainControllers) domain controllers.",
                field: "/domain_controllers"
            )
        }
        for (index, controller) in domainControllers.enumerated() {
            let field = "/domain_controllers/\(index)"
            _ = try AgentValidation.text(controller.url, field: field + "/url", maximum: 2000)
            if let error = controller.error {
                guard (1...500).contains(error.count) else {
                    throw Problem(.validationFailed, "error must have 1 to 500 characters.", field: field + "/error")
                }
            }
        }
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let stored = String(decoding: try encoder.encode(domainControllers), as: UTF8.self)
        return (hostname, version, stored)
    }
}

// MARK: - Answers

extension ConnectorAssignment {
    init(_ assignment: ConnectorRepository.Assignment) {
        self.init(
            connectionID: assignment.connection.description, name: assignment.name, active: assignment.isActive,
            leaseExpiresAt: assignment.leaseExpiresAt
        )
    }
}
