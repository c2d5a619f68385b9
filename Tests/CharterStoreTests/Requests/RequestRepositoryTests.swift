import CharterCore
import CharterStore
import Foundation
import Testing

/// ``RequestRepository`` against PostgreSQL: storing, listing, deciding and expiring elevation requests.
@Suite("Request repository")
struct RequestRepositoryTests {
    static var now: Date { TenantFixture.now }

    /// A pending request of `device` by a user named by SID and UPN, created `age` seconds before now.
    static func request(
        _ device: Device, in tenant: TenantID, kind: ElevationKind = .runAsAdmin, status: StoredRequest.Status = .pending,
        age: TimeInterval = 0, expiresIn: TimeInterval = 600, user: ObjectGUID? = nil
    ) -> StoredRequest {
        StoredRequest(
            id: UUID(), tenant: tenant, device: device.id, kind: kind, userSID: "S-1-5-21-1-2-3-1001", userGUID: nil,
            userUPN: "Alice@Charter.Test", directoryUser: user, computer: device.computer, hostname: device.hostname,
            application: kind == .runAsAdmin
                ? ElevationRequest.Application(
                    fileName: "setup.exe", path: "C:\\Temp\\setup.exe", sha256: "AB12", signerSubject: "CN=Vendor",
                    certificateThumbprint: nil, vendor: "Vendor"
                ) : nil,
            reason: "install", status: status, isLogged: true, allowsPINOverride: false,
            source: .subsetting(id: SubsettingID(UUID()), name: "engineers"), decisionReason: "mode approval_required",
            sessionMinutes: kind == .adminSession ? 30 : nil, createdAt: now.addingTimeInterval(-age),
            expiresAt: status == .pending ? now.addingTimeInterval(expiresIn - age) : nil,
            decidedAt: status == .pending ? nil : now.addingTimeInterval(-age)
        )
    }

    @Test("a request reads back as created, its policy source and application included")
    func createGet() async throws {
        let fixture = try await TenantFixture.make()
        let device = try await fixture.enroll()
        let tenant = fixture.tenant
        let requests = [
            Self.request(device, in: tenant),
            Self.request(device, in: tenant, kind: .adminSession, status: .allowed),
        ]
        let stored = try await fixture.inTenant { tx in
            for request in requests { try await tx.requests.create(request) }
            return [try await tx.requests.get(requests[0].id), try await tx.requests.get(requests[1].id)]
        }
        #expect(stored == requests)
    }

    @Test("listing filters by status, kind, user, computer and time, newest first, and pages by cursor")
    func listing() async throws {
        let fixture = try await TenantFixture.make()
        let device = try await fixture.enroll(hostname: "PC-LIST")
        let other = try await fixture.enroll(hostname: "PC-OTHER")
        let tenant = fixture.tenant
        let userGUID = ObjectGUID(UUID())
        let requests = [
            Self.request(device, in: tenant, age: 40, user: userGUID),
            Self.request(device, in: tenant, kind: .adminSession, status: .allowed, age: 30),
            Self.request(other, in: tenant, status: .denied, age: 20),
            Self.request(device, in: tenant, age: 10),
        ]
        let ids = requests.map(\.id)
        let pages = try await fixture.inTenant { tx in
            for request in requests { try await tx.requests.create(request) }
            func list(_ filter: RequestFilter) async throws -> [UUID] {
                try await tx.requests.list(filter, after: nil, limit: 10).map(\.id)
            }
            let first = try await tx.requests.list(RequestFilter(), after: nil, limit: 3)
            let last = try #require(first.last)
            let second = try await tx.requests.list(
                RequestFilter(), after: RequestCursor(createdAt: last.createdAt, id: last.id), limit: 3
            )
            return [
                try await list(RequestFilter()),
                try await list(RequestFilter(status: .pending)),
                try await list(RequestFilter(kind: .adminSession)),
                try await list(RequestFilter(user: "s-1-5-21-1-2-3-1001")),
                try await list(RequestFilter(user: "alice@charter.test")),
                try await list(RequestFilter(user: userGUID.description.uppercased())),
                try await list(RequestFilter(computer: "pc-other")),
                try await list(RequestFilter(computer: device.id.description)),
                try await list(RequestFilter(from: Self.now.addingTimeInterval(-30), until: Self.now.addingTimeInterval(-10))),
                first.map(\.id) + second.map(\.id),
            ]
        }
        #expect(pages[0] == [ids[3], ids[2], ids[1], ids[0]])
        #expect(pages[1] == [ids[3], ids[0]])
        #expect(pages[2] == [ids[1]])
        #expect(pages[3] == pages[0])
        #expect(pages[4] == pages[0])
        #expect(pages[5] == [ids[0]])
        #expect(pages[6] == [ids[2]])
        #expect(pages[7] == [ids[3], ids[1], ids[0]])
        #expect(pages[8] == [ids[2], ids[1]])
        #expect(pages[9] == pages[0])
    }

    @Test("only a pending request within its time is decided, and once")
    func decide() async throws {
        let fixture = try await TenantFixture.make()
        let device = try await fixture.enroll()
        let tenant = fixture.tenant
        let pending = Self.request(device, in: tenant)
        let late = Self.request(device, in: tenant, age: 700)
        let principal = UUID()
        let results = try await fixture.inTenant { tx in
            try await tx.requests.create(pending)
            try await tx.requests.create(late)
            return [
                try await tx.requests.decide(pending.id, status: .approved, by: principal, name: "admin", comment: "ok", at: Self.now),
                try await tx.requests.decide(pending.id, status: .denied, by: principal, name: "admin", comment: nil, at: Self.now),
                try await tx.requests.decide(late.id, status: .approved, by: principal, name: "admin", comment: nil, at: Self.now),
            ]
        }
        var decided = pending
        decided.status = .approved
        decided.decidedAt = Self.now
        decided.decidedByID = principal
        decided.decidedBy = "admin"
        decided.comment = "ok"
        #expect(results == [decided, nil, nil])
    }

    @Test("expiry ends the tenant's pending requests past their time and no others; the last approval is found")
    func expireAndLastApproval() async throws {
        let fixture = try await TenantFixture.make()
        let device = try await fixture.enroll()
        let tenant = fixture.tenant
        let user = ObjectGUID(UUID())
        let late = Self.request(device, in: tenant, age: 700)
        let current = Self.request(device, in: tenant)
        let approved = Self.request(device, in: tenant, status: .approved, age: 100, user: user)
        let (expired, again, stillPending, last) = try await fixture.inTenant { tx in
            for request in [late, current, approved] { try await tx.requests.create(request) }
            let expired = try await tx.requests.expire(tenant, at: Self.now)
            let again = try await tx.requests.expire(tenant, at: Self.now)
            let last = try await tx.requests.lastApproval(
                device: device.id, user: user,
                application: ElevationRequest.Application(
                    fileName: "renamed.exe", path: nil, sha256: "ab12", signerSubject: nil, certificateThumbprint: nil,
                    vendor: nil
                )
            )
            return (expired, again, try await tx.requests.get(current.id).status, last)
        }
        #expect(expired.map(\.id) == [late.id])
        #expect(expired.first?.status == .expired)
        #expect(expired.first?.decidedBy == "system")
        #expect(again.isEmpty)
        #expect(stillPending == .pending)
        #expect(last == approved.decidedAt)
    }

    @Test("another tenant neither finds nor lists a tenant's requests; the MSP-wide listing has them")
    func isolation() async throws {
        let fixture = try await TenantFixture.make()
        let device = try await fixture.enroll()
        let request = Self.request(device, in: fixture.tenant)
        try await fixture.inTenant { tx in try await tx.requests.create(request) }
        try await fixture.inTenant(1) { tx async throws in
            await #expect(throws: StoreError.notFound) { try await tx.requests.get(request.id) }
            #expect(try await tx.requests.list(RequestFilter(), after: nil, limit: 10).isEmpty)
        }
        let mspWide = try await TestDatabase.withService { database in
            try await database.withMSP(fixture.msp, logger: TestDatabase.logger) { tx in
                try await tx.requests.list(RequestFilter(), after: nil, limit: 10).map(\.id)
            }
        }
        #expect(mspWide == [request.id])
    }
}
