import CharterCore
import CharterStore
import Foundation

/// A fresh MSP with two tenants, transactions in them as the service, and devices enrolled into the first
/// (requests and bundles need one).
struct TenantFixture: Sendable {
    /// Whole seconds, which survive PostgreSQL's microseconds unchanged.
    static let now = Date(timeIntervalSince1970: Date().timeIntervalSince1970.rounded(.down))

    /// A stand-in for a token's 32-byte SHA-256, distinct per `byte`.
    static func hash(_ byte: UInt8) -> [UInt8] { [UInt8](repeating: byte, count: 32) }

    var msp: MSPID
    var tenants: [TenantID]
    var tenant: TenantID { tenants[0] }

    static func make() async throws -> TenantFixture {
        let (msp, tenants) = try await TestDatabase.makeMSP(tenants: 2)
        return TenantFixture(msp: msp, tenants: tenants)
    }

    /// Runs `body` in a transaction of tenant `index` as the service.
    func inTenant<Result: Sendable>(
        _ index: Int = 0, _ body: @Sendable (Transaction) async throws -> Result
    ) async throws -> Result {
        try await TestDatabase.withService { database in
            try await database.withTenant(tenants[index], msp: msp, logger: TestDatabase.logger, body)
        }
    }

    /// Enrolls a device (through a new enrollment token) and returns it as stored.
    func enroll(
        hostname: String = "PC-\(UUID().uuidString.prefix(6))", sid: String? = nil, guid: ObjectGUID? = nil,
        pending: Bool = false, token: [UInt8] = TenantFixture.hash(0)
    ) async throws -> Device {
        let device = Device(
            id: .random(), hostname: hostname, os: "Windows 11", agentVersion: "1.0.0", reportedSID: sid,
            reportedGUID: guid, computer: nil, encryptionKey: Data(repeating: 1, count: 32),
            signingKey: Data((0..<32).map { _ in UInt8.random(in: 0...255) }), pinSecretSealed: "sealed",
            enrolledAt: TenantFixture.now, lastSeenAt: TenantFixture.now,
            isPendingApproval: pending, tokenExpiresAt: TenantFixture.now.addingTimeInterval(3600)
        )
        let tenant = tenant
        try await inTenant { tx in
            let enrollment = EnrollmentToken(
                id: .random(), name: "enroll", expiresAt: nil, maximumUses: nil, createdAt: TenantFixture.now,
                createdBy: nil
            )
            try await tx.enrollmentTokens.create(enrollment, in: tenant, secretHash: TenantFixture.hash(9))
            try await tx.devices.create(device, in: tenant, tokenHash: token, enrollmentToken: enrollment.id)
        }
        return device
    }

    /// The device's credential, looked up as agent authentication does: before any tenant is selected.
    func credential(_ id: DeviceID) async throws -> DeviceRepository.Credential? {
        try await TestDatabase.withService { database in
            try await database.withoutTenant(logger: TestDatabase.logger) { tx in try await tx.devices.credential(for: id) }
        }
    }
}

