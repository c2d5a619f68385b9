import CharterCore
import CharterStore
import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import Testing

@testable import CharterServer

/// The audit export streams the log in bounded pages instead of holding it in memory.
@Suite("Audit export paging")
struct AuditExportPagingTests {
    static func seed(_ world: TestApp.World, events count: Int) async throws {
        try await TestApp.withService { database in
            try await database.withTenant(world.tenants[0], msp: world.msp, logger: TestApp.logger) { tx in
                for index in 0..<count {
                    try await tx.audit.append(
                        AuditRecord(occurredAt: Date(), actor: .system, action: "test.paged", targetType: "test",
                                    targetID: "\(index)"),
                        to: .tenant(world.tenants[0])
                    )
                }
            }
        }
    }

    @Test("an export longer than one page has every event once, oldest first")
    func longerThanOnePage() async throws {
        let world = try await TestApp.makeWorld(tenants: 1)
        let count = AuditExportPages.defaultPageSize * 2 + 7
        try await Self.seed(world, events: count)
        try await TestApp.run { client in
            let body = try await client.execute(
                uri: "/v1/tenants/\(world.tenants[0])/audit-events?format=jsonl&action=test.paged", method: .get,
                headers: [.authorization: "Bearer \(world.tenantKeys[0])"], body: nil
            ) { String(buffer: $0.body) }
            let targets = try body.split(separator: "\n").map { line in
                let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
                return try #require(object?["target_id"] as? String)
            }
            #expect(targets == (0..<count).map(String.init))
        }
    }

    @Test("a page is read only when the one before it was taken")
    func readsOnDemand() async throws {
        let world = try await TestApp.makeWorld(tenants: 1)
        try await Self.seed(world, events: 5)
        let tenant = world.tenants[0]
        let fetches = Counter()
        try await TestApp.withService { database in
            let pages = AuditExportPages(format: .csv, pageSize: 2) { after, limit in
                _ = fetches.increment()
                return try await database.withTenant(tenant, msp: world.msp, logger: TestApp.logger) { tx in
                    try await tx.audit.list(.tenant(tenant), before: nil, after: after, limit: limit, action: "test.paged")
                }
            }
            var iterator = pages.makeAsyncIterator()
            let header = try await iterator.next()
            #expect(header.map { String(decoding: $0, as: UTF8.self) } == AuditExport.csvHeader)
            #expect(fetches.value == 0)
            var lines = 0
            for expectedFetches in 1...3 {
                let chunk = try #require(try await iterator.next())
                #expect(fetches.value == expectedFetches)
                lines += String(decoding: chunk, as: UTF8.self).components(separatedBy: "\r\n").filter { !$0.isEmpty }.count
            }
            #expect(lines == 5)
            // The third page was short: the end is known without another query.
            #expect(try await iterator.next() == nil)
            #expect(fetches.value == 3)
        }
    }
}

