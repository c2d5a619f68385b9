import CharterCore
import CharterStore
import Foundation
import Testing

/// ``DeviceRepository`` against PostgreSQL, each test in tenants of its own.
@Suite("Device repository")
struct DeviceRepositoryTests {
    static var now: Date { TenantFixture.now }

    @Test("a device reads back as enrolled; list pages by id; another tenant finds none of it")
    func createGetList() async throws {
        let fixture = try await TenantFixture.make()
        let devices = [try await fixture.enroll(), try await fixture.enroll(), try await fixture.enroll()]
        let tenant = fixture.tenant
        let stored = try await fixture.inTenant { tx in try await tx.devices.get(tenant, id: devices[1].id) }
        #expect(stored == devices[1])

        let sorted = devices.map(\.id).sorted { $0.rawValue.uuidString < $1.rawValue.uuidString }
        let pages = try await fixture.inTenant { tx in
            let first = try await tx.devices.list(tenant, after: nil, limit: 2)
            let second = try await tx.devices.list(tenant, after: first.last?.id, limit: 2)
            return (first.map(\.id), second.map(\.id))
        }
        #expect((pages.0 + pages.1).count == 3)
        #expect(Set(pages.0 + pages.1) == Set(sorted))
        #expect(pages.1.count == 1)

        let other = fixture.tenants[1]
        try await fixture.inTenant(1) { tx async throws in
            #expect(try await tx.devices.list(other, after: nil, limit: 10).isEmpty)
            // Asking for the first tenant's device from the second's transaction finds nothing either.
            #expect(try await tx.devices.list(tenant, after: nil, limit: 10).isEmpty)
            await #expect(throws: StoreError.notFound) { try await tx.devices.get(tenant, id: devices[0].id) }
        }
    }

    @Test("the credential is found without a tenant; a renewal keeps the previous token; revoked devices have none")
    func credentialRenewRevoke() async throws {
        let fixture = try await TenantFixture.make()
        let device = try await fixture.enroll(token: TenantFixture.hash(1))
        let tenant = fixture.tenant
        let credential = try #require(try await fixture.credential(device.id))
        #expect(credential.tokenHash == TenantFixture.hash(1))
        #expect(credential.tenant == tenant)
        #expect(credential.msp == fixture.msp)
        #expect(credential.previousTokenHash == nil)

        let expiry = Self.now.addingTimeInterval(7200)
        try await fixture.inTenant { tx in
            try await tx.devices.renewToken(tenant, id: device.id, tokenHash: TenantFixture.hash(2), expiresAt: expiry)
        }
        let renewed = try #require(try await fixture.credential(device.id))
        #expect(renewed.tokenHash == TenantFixture.hash(2))
        #expect(renewed.tokenExpiresAt == expiry)
        #expect(renewed.previousTokenHash == TenantFixture.hash(1))
        #expect(renewed.previousTokenExpiresAt == device.tokenExpiresAt)

        let revoked = try await fixture.inTenant { tx in try await tx.devices.revoke(tenant, id: device.id, at: Self.now) }
        #expect(revoked.revokedAt == Self.now)
        #expect(try await fixture.credential(device.id) == nil)
        // A renewal of a revoked device changes nothing.
        try await fixture.inTenant { tx in
            try await tx.devices.renewToken(tenant, id: device.id, tokenHash: TenantFixture.hash(3), expiresAt: expiry)
        }

        let restored = try await fixture.inTenant { tx in try await tx.devices.restore(tenant, id: device.id, at: Self.now) }
        #expect(restored)
        let afterRestore = try #require(try await fixture.credential(device.id))
        #expect(afterRestore.tokenHash == TenantFixture.hash(2))
        #expect(afterRestore.tokenExpiresAt == Self.now)
        #expect(afterRestore.previousTokenHash == nil)
        #expect(try await fixture.inTenant { tx in try await tx.devices.restore(tenant, id: device.id, at: Self.now) } == false)
    }

    @Test("only a device waiting for approval is approved, and once")
    func approval() async throws {
        let fixture = try await TenantFixture.make()
        let pending = try await fixture.enroll(pending: true)
        let enrolled = try await fixture.enroll()
        let tenant = fixture.tenant
        #expect(try await fixture.credential(pending.id)?.isPendingApproval == true)
        let results = try await fixture.inTenant { tx in
            [
                try await tx.devices.approve(tenant, id: pending.id),
                try await tx.devices.approve(tenant, id: pending.id),
                try await tx.devices.approve(tenant, id: enrolled.id),
            ]
        }
        #expect(results == [true, false, false])
        #expect(try await fixture.credential(pending.id)?.isPendingApproval == false)
    }

    @Test("a check-in records users by identity, merges what later ones add, and the oldest are forgotten beyond a limit")
    func checkInUsers() async throws {
        let fixture = try await TenantFixture.make()
        let device = try await fixture.enroll()
        let tenant = fixture.tenant
        let alice = DeviceUser(sid: "S-1-5-21-1-2-3-1001", guid: nil, upn: nil)
        let bob = DeviceUser(sid: nil, guid: nil, upn: "Bob@Charter.Test")
        let added = try await fixture.inTenant { tx in
            [
                try await tx.devices.checkIn(tenant, id: device.id, agentVersion: "1.1.0", heldVersion: 4, users: [alice, bob], at: Self.now),
                // The same users again, alice's SID in lower case and now with her UPN: nobody new.
                try await tx.devices.checkIn(
                    tenant, id: device.id, agentVersion: "1.1.0", heldVersion: 5,
                    users: [DeviceUser(sid: "s-1-5-21-1-2-3-1001", guid: nil, upn: "alice@charter.test")],
                    at: Self.now.addingTimeInterval(60)
                ),
                try await tx.devices.checkIn(tenant, id: device.id, agentVersion: "1.1.0", heldVersion: 5, users: [], at: Self.now),
            ]
        }
        #expect(added == [true, false, false])
        let (stored, users) = try await fixture.inTenant { tx in
            (
                try await tx.devices.get(tenant, id: device.id),
                try await tx.devices.users(tenant, of: device.id, since: Self.now, limit: 10)
            )
        }
        #expect(stored.agentVersion == "1.1.0")
        #expect(stored.heldVersion == 5)
        // Most recent first; alice is one user (her SID matched in any case), with what she reported last.
        #expect(users == [DeviceUser(sid: "s-1-5-21-1-2-3-1001", guid: nil, upn: "alice@charter.test"), bob])

        let forgotten = try await fixture.inTenant { tx in try await tx.devices.forgetUsers(tenant, of: device.id, beyond: 1) }
        #expect(forgotten == 1)
        let kept = try await fixture.inTenant { tx in
            try await tx.devices.users(tenant, of: device.id, since: .distantPast, limit: 10)
        }
        #expect(kept.map(\.upn) == ["alice@charter.test"])
    }

    @Test("the devices standing for a computer are found by GUID, by SID in any case, or by host name when nothing else")
    func standingFor() async throws {
        let fixture = try await TenantFixture.make()
        let guid = ObjectGUID(UUID())
        let byGUID = try await fixture.enroll(guid: guid)
        let bySID = try await fixture.enroll(sid: "S-1-5-21-9-9-9-1500")
        let byName = try await fixture.enroll(hostname: "PC-SEVEN")
        let revoked = try await fixture.enroll(hostname: "pc-seven")
        let tenant = fixture.tenant
        let found = try await fixture.inTenant { tx in
            _ = try await tx.devices.revoke(tenant, id: revoked.id, at: Self.now)
            func standing(_ guid: ObjectGUID?, _ sid: String?, _ hostname: String, revoked: Bool = false) async throws -> [DeviceID] {
                try await tx.devices.standingFor(
                    tenant, computer: nil, reportedGUID: guid, reportedSID: sid, hostname: hostname, revoked: revoked
                ).map(\.id)
            }
            return [
                try await standing(guid, nil, "other"),
                try await standing(nil, "s-1-5-21-9-9-9-1500", "other"),
                try await standing(nil, nil, "pc-seven"),
                try await standing(nil, nil, "pc-seven", revoked: true),
                try await standing(nil, nil, byGUID.hostname),
            ]
        }
        #expect(found[0] == [byGUID.id])
        #expect(found[1] == [bySID.id])
        #expect(found[2] == [byName.id])
        #expect(found[3] == [revoked.id])
        // A device that reported a GUID is not found by its host name alone.
        #expect(found[4] == [])
    }

    @Test("a batch finds each device's computer as the lookup of one does: GUID, SID, else a host name matching one")
    func findComputers() async throws {
        let fixture = try await TenantFixture.make()
        let staged = try await StagedDirectory.make(msp: fixture.msp, tenant: fixture.tenant)
        let domain = Entry.domain()
        let office = Entry.ou("Office", in: domain)
        let lab = Entry.ou("Lab", in: domain)
        let ws1 = Entry.computer("WS1", in: office)
        let ws2 = Entry.computer("WS2", in: office)
        var withSID = Entry.computer("SID1", in: office)
        withSID.sid = "S-1-5-21-7-7-7-1234"
        // Two computers named alike in two OUs: a host name alone links neither.
        let twins = [Entry.computer("TWIN", in: office), Entry.computer("TWIN", in: lab)]
        try await staged.sync(.full, [[domain, office, lab, ws1, ws2, withSID] + twins])
        let devices = [
            try await fixture.enroll(hostname: "ws1.corp.example"),
            try await fixture.enroll(hostname: "other", guid: ws2.guid),
            try await fixture.enroll(hostname: "x", sid: "s-1-5-21-7-7-7-1234"),
            try await fixture.enroll(hostname: "twin"),
            try await fixture.enroll(hostname: "nobody"),
            // The GUID outranks a host name naming another computer.
            try await fixture.enroll(hostname: "ws2", guid: ws1.guid),
        ]
        let tenant = fixture.tenant
        let (one, batch) = try await fixture.inTenant { tx in
            var one: [DeviceID: ObjectGUID] = [:]
            for device in devices {
                one[device.id] = try await tx.devices.findComputer(
                    tenant, guid: device.reportedGUID, sid: device.reportedSID, hostname: device.hostname
                )
            }
            return (one, try await tx.devices.findComputers(tenant, for: devices))
        }
        #expect(batch == one)
        #expect(batch == [devices[0].id: ws1.guid, devices[1].id: ws2.guid, devices[2].id: withSID.guid, devices[5].id: ws1.guid])
    }

    @Test("endpoint event ids are accepted once; a PIN response is recorded once per challenge")
    func eventsAndPINs() async throws {
        let fixture = try await TenantFixture.make()
        let device = try await fixture.enroll()
        let tenant = fixture.tenant
        let (one, two) = (UUID(), UUID())
        let (first, second, pins) = try await fixture.inTenant { tx in
            (
                try await tx.devices.acceptEvents(tenant, device: device.id, ids: [one], at: Self.now),
                try await tx.devices.acceptEvents(tenant, device: device.id, ids: [one, two], at: Self.now),
                [
                    try await tx.devices.recordPIN(tenant, id: device.id, challenge: "ABCD-1234", by: nil, at: Self.now),
                    try await tx.devices.recordPIN(tenant, id: device.id, challenge: "ABCD-1234", by: nil, at: Self.now),
                ]
            )
        }
        #expect(first == [one])
        #expect(second == [two])
        #expect(pins == [true, false])
    }
}
