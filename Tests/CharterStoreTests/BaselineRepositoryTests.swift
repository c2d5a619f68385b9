import CharterCore
import CharterStore
import Foundation
import Testing

/// The baselines' tables as row-level security and the foreign keys of migration 0020 bound them, whatever the
/// service asks.
@Suite("Baseline repository")
struct BaselineRepositoryTests {
    static func baseline(_ name: String) -> Baseline {
        Baseline(id: .random(), name: name, settings: SettingsOverrides(runAsAdmin: .init(mode: .auditOnly)))
    }

    @Test("a tenant's transaction sees only the baselines assigned to it; another MSP sees none")
    func visibility() async throws {
        let (msp, tenants) = try await TestDatabase.makeMSP(tenants: 2)
        let (otherMSP, _) = try await TestDatabase.makeMSP(tenants: 1)
        try await TestDatabase.withService { database in
            let (assigned, unassigned) = try await database.withMSP(msp, logger: TestDatabase.logger) { tx in
                let assigned = try await tx.baselines.create(msp, Self.baseline("Assigned"), now: Date())
                let unassigned = try await tx.baselines.create(msp, Self.baseline("Unassigned"), now: Date())
                try await tx.withinTenant(tenants[0]) { tx in
                    _ = try await tx.baselines.assign([assigned.baseline.id], to: tenants[0], of: msp)
                }
                return (assigned.baseline.id, unassigned.baseline.id)
            }
            try await database.withTenant(tenants[0], msp: msp, logger: TestDatabase.logger) { tx async throws in
                #expect(try await tx.baselines.list(msp).map(\.baseline.id) == [assigned])
                #expect(try await tx.baselines.assigned(to: tenants[0]).map(\.baseline.id) == [assigned])
                await #expect(throws: StoreError.notFound) { try await tx.baselines.get(msp, id: unassigned) }
            }
            try await database.withTenant(tenants[1], msp: msp, logger: TestDatabase.logger) { tx async throws in
                #expect(try await tx.baselines.list(msp).isEmpty)
                #expect(try await tx.baselines.assigned(to: tenants[0]).isEmpty, "another tenant's assignment")
            }
            try await database.withMSP(otherMSP, logger: TestDatabase.logger) { tx async throws in
                #expect(try await tx.baselines.list(msp).isEmpty)
                #expect(try await tx.baselines.tenants(assignedTo: assigned, of: msp).isEmpty)
            }
            try await database.withMSP(msp, logger: TestDatabase.logger) { tx async throws in
                #expect(try await tx.baselines.tenants(assignedTo: assigned, of: msp) == [tenants[0]])
            }
        }
    }

    @Test("the database refuses to assign one MSP's baseline to another MSP's tenant")
    func crossMSPAssignment() async throws {
        let (msp, _) = try await TestDatabase.makeMSP(tenants: 1)
        let (otherMSP, otherTenants) = try await TestDatabase.makeMSP(tenants: 1)
        try await TestDatabase.withService { database in
            let id = try await database.withMSP(msp, logger: TestDatabase.logger) { tx in
                try await tx.baselines.create(msp, Self.baseline("Ours"), now: Date()).baseline.id
            }
            // The other MSP's transaction names our MSP and baseline outright: row-level security refuses the row.
            await #expect(throws: StoreError.self) {
                try await database.withMSP(otherMSP, logger: TestDatabase.logger) { tx in
                    try await tx.withinTenant(otherTenants[0]) { tx in
                        _ = try await tx.baselines.assign([id], to: otherTenants[0], of: msp)
                    }
                }
            }
            // Under its own MSP, the foreign keys refuse a baseline of another MSP.
            await #expect(throws: StoreError.self) {
                try await database.withMSP(otherMSP, logger: TestDatabase.logger) { tx in
                    try await tx.withinTenant(otherTenants[0]) { tx in
                        _ = try await tx.baselines.assign([id], to: otherTenants[0], of: otherMSP)
                    }
                }
            }
        }
    }

    @Test("the policy stamp moves with the assignment, an assigned baseline's edit and a directory change, not a policy hint")
    func stampCoversBaselinesAndDirectory() async throws {
        let (msp, tenants) = try await TestDatabase.makeMSP(tenants: 1)
        let tenant = tenants[0]
        try await TestDatabase.withService { database in
            func stamp() async throws -> PolicyStamp {
                try await database.withTenant(tenant, msp: msp, logger: TestDatabase.logger) { tx in
                    try await tx.subsettings.stamp(tenant)
                }
            }
            let initial = try await stamp()
            let created = try await database.withMSP(msp, logger: TestDatabase.logger) { tx in
                let created = try await tx.baselines.create(msp, Self.baseline("Stamped"), now: Date())
                try await tx.withinTenant(tenant) { tx in
                    _ = try await tx.baselines.assign([created.baseline.id], to: tenant, of: msp)
                }
                return created
            }
            let assigned = try await stamp()
            #expect(assigned != initial)
            #expect(assigned.baselines == [created.baseline.id] && assigned.baselineVersions == [1])

            try await database.withMSP(msp, logger: TestDatabase.logger) { tx in
                var edited = created.baseline
                edited.description = "edited"
                _ = try await tx.baselines.update(msp, edited, expectedVersion: 1, now: Date())
            }
            let edited = try await stamp()
            #expect(edited.baselineVersions == [2])

            // A policy hint is not a directory change; a directory sync's hint is (names may resolve anew).
            try await database.withTenant(tenant, msp: msp, logger: TestDatabase.logger) { tx in
                _ = try await tx.changeFeed.append(tenant, event: .bundle, devices: nil, data: #"{"reason":"policy"}"#)
            }
            #expect(try await stamp() == edited)
            let sequence = try await database.withTenant(tenant, msp: msp, logger: TestDatabase.logger) { tx in
                try await tx.changeFeed.append(tenant, event: .bundle, devices: nil, data: #"{"reason":"directory"}"#)
            }
            let synced = try await stamp()
            #expect(synced.directoryChange == sequence && synced != edited)
        }
    }
}

/// The batched reads of a baseline edit (one statement for all assigned tenants), as row-level security bounds them.
@Suite("Baseline repository, many tenants at once")
struct BaselineBatchReadTests {
    @Test("every tenant's assignment in one read: an MSP sees each of its tenants', a tenant only its own, another MSP none")
    func assignmentsOfManyTenants() async throws {
        let (msp, tenants) = try await TestDatabase.makeMSP(tenants: 3)
        let (otherMSP, otherTenants) = try await TestDatabase.makeMSP(tenants: 1)
        try await TestDatabase.withService { database in
            let (first, second) = try await database.withMSP(msp, logger: TestDatabase.logger) { tx in
                let first = try await tx.baselines.create(msp, BaselineRepositoryTests.baseline("First"), now: Date())
                let second = try await tx.baselines.create(msp, BaselineRepositoryTests.baseline("Second"), now: Date())
                try await tx.withinTenant(tenants[0]) { tx in
                    _ = try await tx.baselines.assign([second.baseline.id, first.baseline.id], to: tenants[0], of: msp)
                }
                try await tx.withinTenant(tenants[1]) { tx in
                    _ = try await tx.baselines.assign([first.baseline.id], to: tenants[1], of: msp)
                }
                return (first.baseline.id, second.baseline.id)
            }
            let asked = tenants + otherTenants
            try await database.withMSP(msp, logger: TestDatabase.logger) { tx async throws in
                let assigned = try await tx.baselines.assigned(to: asked).mapValues { $0.map(\.baseline.id) }
                #expect(assigned == [tenants[0]: [second, first], tenants[1]: [first], tenants[2]: [], otherTenants[0]: []])
                for tenant in tenants {
                    #expect(try await tx.baselines.assigned(to: [tenant])[tenant]?.map(\.baseline.id) ==
                        tx.baselines.assigned(to: tenant).map(\.baseline.id))
                }
            }
            try await database.withTenant(tenants[1], msp: msp, logger: TestDatabase.logger) { tx async throws in
                let assigned = try await tx.baselines.assigned(to: asked).mapValues { $0.map(\.baseline.id) }
                #expect(assigned == [tenants[0]: [], tenants[1]: [first], tenants[2]: [], otherTenants[0]: []])
            }
            try await database.withMSP(otherMSP, logger: TestDatabase.logger) { tx async throws in
                #expect(try await tx.baselines.assigned(to: asked).values.allSatisfy(\.isEmpty))
            }
        }
    }

    @Test("existing tenants in one read: the MSP's live tenants, not another MSP's, not a deleted one")
    func existingTenants() async throws {
        let (msp, tenants) = try await TestDatabase.makeMSP(tenants: 3)
        let (otherMSP, otherTenants) = try await TestDatabase.makeMSP(tenants: 1)
        try await TestDatabase.withService { database in
            try await database.withMSP(msp, logger: TestDatabase.logger) { tx async throws in
                _ = try await tx.tenants.delete(tenants[2], expectedVersion: nil, at: Date())
            }
            let asked = tenants + otherTenants + [TenantID.random()]
            try await database.withMSP(msp, logger: TestDatabase.logger) { tx async throws in
                #expect(try await tx.tenants.existing(asked) == [tenants[0], tenants[1]])
            }
            try await database.withTenant(tenants[0], msp: msp, logger: TestDatabase.logger) { tx async throws in
                #expect(try await tx.tenants.existing(asked) == [tenants[0]])
            }
            try await database.withMSP(otherMSP, logger: TestDatabase.logger) { tx async throws in
                #expect(try await tx.tenants.existing(asked) == [otherTenants[0]])
            }
        }
    }

    @Test("a tenant batch reads and appends each tenant's rows with that tenant selected, then selects none; it refuses a tenant of another MSP or a deleted one")
    func tenantBatch() async throws {
        let (msp, tenants) = try await TestDatabase.makeMSP(tenants: 3)
        let (_, otherTenants) = try await TestDatabase.makeMSP(tenants: 1)
        try await TestDatabase.withService { database in
            try await database.withTenant(tenants[1], msp: msp, logger: TestDatabase.logger) { tx in
                _ = try await tx.settings.replace(
                    tenants[1], with: Settings(), sections: [.endpoint], expectedVersion: nil, by: .system, at: Date()
                )
            }
            func record(_ action: String) -> AuditRecord {
                AuditRecord(occurredAt: Date(), actor: .system, action: action, targetType: "test", targetID: "1")
            }
            try await database.withTenant(tenants[0], msp: msp, logger: TestDatabase.logger) { tx in
                try await tx.audit.append(record("test.single"), to: .tenant(tenants[0]))
            }
            try await database.withMSP(msp, logger: TestDatabase.logger) { tx async throws in
                let settings = try await tx.batch(tenants).settings()
                #expect(settings[tenants[1]]?.version == 1 && settings[tenants[1]]?.sections == [.endpoint])
                #expect(settings[tenants[0]] == .defaults && settings[tenants[2]] == .defaults)
                #expect(try await tx.tenants.existing(tenants) == Set(tenants), "no tenant selected afterwards")

                // Two events for one tenant and one each for the others, in one batch: each chain stays whole.
                let events = try await tx.audit.append(
                    tenants.map { (tenant: $0, record: record("test.batch")) }
                        + [(tenant: tenants[0], record: record("test.batch.second"))]
                )
                #expect(events.map(\.sequence) == [2, 1, 1, 3])
                for tenant in tenants {
                    let verification = try await tx.withinTenant(tenant) { tx in try await tx.audit.verify(.tenant(tenant)) }
                    #expect(verification.firstBreak == nil)
                    #expect(verification.eventsChecked == (tenant == tenants[0] ? 3 : 1))
                }

                let last = try await tx.changeFeed.append(
                    [(tenant: tenants[0], devices: nil), (tenant: tenants[2], devices: [DeviceID(UUID())])], event: .bundle,
                    data: "{}"
                )
                let position = try #require(last)
                // In order; other tenants' appends may take sequence numbers in between.
                let read = try await tx.changeFeed.entries(after: ChangeFeedCursor(head: position - 10_000, pending: []))
                let entries = read.entries.filter { [tenants[0], tenants[2]].contains($0.tenant) && $0.sequence <= position }
                #expect(entries.map(\.tenant) == [tenants[0], tenants[2]])
                #expect(entries.map { $0.devices?.count } == [nil, 1])
            }
            for refused in [[tenants[0], otherTenants[0]], [tenants[0], tenants[2]]] {
                if refused.last == tenants[2] {
                    try await database.withMSP(msp, logger: TestDatabase.logger) { tx in
                        _ = try await tx.tenants.delete(tenants[2], expectedVersion: nil, at: Date())
                    }
                }
                await #expect(throws: StoreError.notFound) {
                    try await database.withMSP(msp, logger: TestDatabase.logger) { tx in
                        _ = try await tx.batch(refused).settings()
                    }
                }
                await #expect(throws: StoreError.notFound) {
                    try await database.withMSP(msp, logger: TestDatabase.logger) { tx in
                        try await tx.audit.append(refused.map { (tenant: $0, record: record("test.refused")) })
                    }
                }
            }
        }
    }
}
