import CharterCore
import Foundation
import Testing

/// The tenants and ids the tables below are made of.
private enum Sample {
    static func tenant(
        _ name: String, stale: Int = 0, behind: Int = 0, failed: Int = 0, held: Int = 0, pending: Int = 0,
        broken: Bool = false, devices: Int = 10, id: UUID = UUID()
    ) -> TenantOverview {
        TenantOverview(
            tenant: TenantID(id), name: name,
            devices: .init(total: devices, online: devices - stale, stale: stale, behind: behind),
            directory: .init(connections: 1, failed: failed, held: held, lastRun: nil),
            pendingRequests: pending,
            auditChain: broken
                ? .init(status: .broken, verifiedThrough: 4, lastVerifiedAt: Date(), since: Date(), brokenAt: 5)
                : .unverified
        )
    }

    static let world: [TenantOverview] = [
        tenant("Delta", pending: 5),
        tenant("alpha"),
        tenant("Charlie", stale: 3, failed: 1),
        tenant("Bravo", broken: true),
        tenant("Echo", held: 1, pending: 1),
        tenant("Foxtrot", stale: 1, failed: 1, pending: 2),
        tenant("Golf", behind: 4, devices: 40),
    ]

    static let msp = MSPID(UUID())
    static let otherMSP = MSPID(UUID())
    static let tenantA = TenantID(UUID())
    static let tenantB = TenantID(UUID())
}

@Suite("MSP overview: reasons, filters, order and pages")
struct TenantOverviewTests {
    @Test(
        "each figure gives its reason, most serious first",
        arguments: [
            (Sample.tenant("a"), []),
            (Sample.tenant("a", stale: 1), [.devicesStale]),
            (Sample.tenant("a", behind: 2), [.devicesBehind]),
            (Sample.tenant("a", failed: 1), [.syncFailed]),
            (Sample.tenant("a", held: 1), [.syncHeld]),
            (Sample.tenant("a", pending: 3), [.requestsPending]),
            (Sample.tenant("a", broken: true), [.auditChainBroken]),
            (
                Sample.tenant("a", stale: 1, behind: 1, failed: 1, held: 1, pending: 1, broken: true),
                [.auditChainBroken, .syncHeld, .syncFailed, .requestsPending, .devicesStale, .devicesBehind]
            ),
        ] as [(TenantOverview, [AttentionReason])]
    )
    func reasons(_ tenant: TenantOverview, _ expected: [AttentionReason]) {
        #expect(tenant.reasons == expected)
    }

    @Test("an unverified chain is not a reason; a verified one that holds is not either")
    func unverifiedChain() {
        var tenant = Sample.tenant("a")
        #expect(tenant.reasons.isEmpty)
        tenant.auditChain = .init(status: .ok, verifiedThrough: 9, lastVerifiedAt: Date(), since: Date(), brokenAt: nil)
        #expect(tenant.reasons.isEmpty)
    }

    static func names(_ query: TenantOverview.Query) -> [String] {
        TenantOverview.page(of: Sample.world, query).items.map(\.name)
    }

    @Test(
        "orders: attention by the most serious reason, then the next; counts largest first; ties by name",
        arguments: [
            (.attention, ["Bravo", "Echo", "Foxtrot", "Charlie", "Delta", "Golf", "alpha"]),
            (.name, ["alpha", "Bravo", "Charlie", "Delta", "Echo", "Foxtrot", "Golf"]),
            (.pendingRequests, ["Delta", "Foxtrot", "Echo", "alpha", "Bravo", "Charlie", "Golf"]),
            (.devices, ["Golf", "alpha", "Bravo", "Charlie", "Delta", "Echo", "Foxtrot"]),
            (.staleDevices, ["Charlie", "Foxtrot", "alpha", "Bravo", "Delta", "Echo", "Golf"]),
            (.behindDevices, ["Golf", "alpha", "Bravo", "Charlie", "Delta", "Echo", "Foxtrot"]),
        ] as [(TenantOverview.Order, [String])]
    )
    func orders(_ order: TenantOverview.Order, _ expected: [String]) {
        #expect(Self.names(.init(order: order)) == expected)
    }

    @Test(
        "filters: needing attention or not, and any of the reasons asked for",
        arguments: [
            (TenantOverview.Query(needsAttention: true), ["Bravo", "Echo", "Foxtrot", "Charlie", "Delta", "Golf"]),
            (TenantOverview.Query(needsAttention: false), ["alpha"]),
            (TenantOverview.Query(reasons: [.syncFailed]), ["Foxtrot", "Charlie"]),
            (TenantOverview.Query(reasons: [.syncHeld, .auditChainBroken]), ["Bravo", "Echo"]),
            (TenantOverview.Query(needsAttention: false, reasons: [.requestsPending]), []),
        ] as [(TenantOverview.Query, [String])]
    )
    func filters(_ query: TenantOverview.Query, _ expected: [String]) {
        #expect(Self.names(query) == expected)
    }

    @Test("pages follow each other without gap or repeat, also filtered; the last has no cursor")
    func paging() {
        for query in [TenantOverview.Query(limit: 3), TenantOverview.Query(needsAttention: true, order: .name, limit: 2)] {
            var seen: [String] = []
            var cursor: TenantID?
            var pages = 0
            repeat {
                var next = query
                next.after = cursor
                let page = TenantOverview.page(of: Sample.world, next)
                #expect(page.items.count <= query.limit)
                seen += page.items.map(\.name)
                cursor = page.next
                pages += 1
            } while cursor != nil && pages < 10
            var all = query
            all.limit = 200
            #expect(seen == Self.names(all))
        }
    }

    @Test("a page that ends exactly at the last tenant has no cursor")
    func exactEnd() {
        let page = TenantOverview.page(of: Sample.world, .init(limit: Sample.world.count))
        #expect(page.items.count == Sample.world.count)
        #expect(page.next == nil)
    }

    @Test("a cursor naming a tenant no longer in the overview ends the listing")
    func unknownCursor() {
        let page = TenantOverview.page(of: Sample.world, .init(after: TenantID(UUID())))
        #expect(page.items.isEmpty)
        #expect(page.next == nil)
    }

    @Test("a cursor's position is its tenant's place in the order now, among filtered-out tenants too")
    func cursorOfFilteredTenant() {
        // alpha needs no attention; after it, in name order, the tenants needing attention come.
        let alpha = Sample.world.first { $0.name == "alpha" }
        let page = TenantOverview.page(
            of: Sample.world, .init(needsAttention: true, order: .name, after: alpha?.tenant, limit: 2)
        )
        #expect(page.items.map(\.name) == ["Bravo", "Charlie"])
    }

    @Test(
        "readable tenants: all with an MSP-wide grant, else those of the tenant grants in that MSP",
        arguments: [
            ([Grant(role: .auditor, scope: .msp(Sample.msp))], nil),
            (
                [Grant(role: .owner, scope: .tenant(Sample.msp, Sample.tenantA)), Grant(role: .auditor, scope: .msp(Sample.msp))],
                nil
            ),
            ([Grant(role: .approver, scope: .tenant(Sample.msp, Sample.tenantA))], [Sample.tenantA]),
            (
                [
                    Grant(role: .approver, scope: .tenant(Sample.msp, Sample.tenantA)),
                    Grant(role: .auditor, scope: .tenant(Sample.msp, Sample.tenantB)),
                ],
                [Sample.tenantA, Sample.tenantB]
            ),
            ([Grant(role: .owner, scope: .msp(Sample.otherMSP))], []),
            ([Grant(role: .owner, scope: .tenant(Sample.otherMSP, Sample.tenantB))], []),
        ] as [([Grant], Set<TenantID>?)]
    )
    func readableTenants(_ grants: [Grant], _ expected: Set<TenantID>?) {
        let principal = Principal(
            person: .init(id: PersonID(UUID()), issuer: "https://idp.test", subject: "s", email: nil), name: "p",
            msp: grants[0].scope.mspID, grants: grants
        )
        #expect(principal.readableTenants(in: Sample.msp) == expected)
    }
}
