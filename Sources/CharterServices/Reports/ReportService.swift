package import CharterCore
package import CharterStore
package import Foundation

/// Reports over a tenant's or an MSP's elevation requests (docs/reports.md): grouped by application, by user,
/// and the pre-approval candidates (applications approved at least a given number of times).
///
/// Reads only, each one transaction; authorisation is the caller's, and for the MSP-wide report the caller
/// also says which tenants it may read.
package struct ReportService: Sendable {
    /// The longest period a report covers (366 days), so one request cannot make the database aggregate years.
    package static let maximumPeriod: TimeInterval = 366 * 86_400
    /// The period when the caller gives no `from` (30 days before `to`).
    package static let defaultPeriod: TimeInterval = 30 * 86_400

    /// How the requests are grouped.
    package enum Grouping: String, Hashable, Sendable, CaseIterable {
        case application, user, candidates
    }

    /// What a caller asks of an elevation report.
    package struct ElevationQuery: Hashable, Sendable {
        /// The start of the period (inclusive); ``ReportService/defaultPeriod`` before `to` when `nil`.
        package var from: Date?
        /// The end of the period (exclusive); now when `nil`.
        package var to: Date?
        package var grouping: Grouping
        /// For ``Grouping/candidates``: the fewest approvals an application needs.
        package var minimumApprovals: Int
        /// The most rows the report holds.
        package var limit: Int

        package init(from: Date?, to: Date?, grouping: Grouping, minimumApprovals: Int, limit: Int) {
            self.from = from
            self.to = to
            self.grouping = grouping
            self.minimumApprovals = minimumApprovals
            self.limit = limit
        }
    }

    /// An elevation report: the period it covers and its rows (applications for the application and candidate
    /// groupings, users for the user grouping).
    package struct ElevationReport: Hashable, Sendable {
        package var from: Date
        package var to: Date
        package var grouping: Grouping
        /// For ``Grouping/candidates``, the fewest approvals a row has.
        package var minimumApprovals: Int?
        package var applications: [ApplicationReportRow]
        package var users: [UserReportRow]
        /// Whether more rows matched than the query's limit.
        package var isTruncated: Bool
    }

    let database: Database
    /// The clock; tests may pin it.
    let now: @Sendable () -> Date

    package init(database: Database, now: @escaping @Sendable () -> Date = { Date() }) {
        self.database = database
        self.now = now
    }

    /// The elevation report of one tenant.
    ///
    /// - Throws: ``ReportError/invalidPeriod(_:field:)``.
    package func elevations(
        _ query: ElevationQuery, of tenant: TenantID, msp: MSPID, by caller: Caller
    ) async throws -> ElevationReport {
        let (from, to) = try period(of: query)
        return try await database.withTenant(tenant, msp: msp, logger: caller.logger) { tx in
            try await report(query, from: from, to: to, tenants: [tenant], in: tx)
        }
    }

    /// The elevation report across the MSP's tenants, or only `tenants` of them (`nil`: all).
    ///
    /// - Throws: ``ReportError/invalidPeriod(_:field:)``.
    package func elevations(
        _ query: ElevationQuery, ofMSP msp: MSPID, tenants: Set<TenantID>?, by caller: Caller
    ) async throws -> ElevationReport {
        let (from, to) = try period(of: query)
        if let tenants, tenants.isEmpty {
            return ElevationReport(
                from: from, to: to, grouping: query.grouping,
                minimumApprovals: query.grouping == .candidates ? query.minimumApprovals : nil, applications: [],
                users: [], isTruncated: false
            )
        }
        // Row-level security confines the transaction to the MSP's tenants; `tenants` narrows it to the caller's.
        return try await database.withMSP(msp, logger: caller.logger) { tx in
            try await report(query, from: from, to: to, tenants: tenants.map { Array($0) }, in: tx)
        }
    }

    private func period(of query: ElevationQuery) throws(ReportError) -> (from: Date, to: Date) {
        let to = query.to ?? now()
        let from = query.from ?? to.addingTimeInterval(-Self.defaultPeriod)
        guard from < to else { throw .invalidPeriod("from must lie before to.", field: "from") }
        guard to.timeIntervalSince(from) <= Self.maximumPeriod else {
            throw .invalidPeriod("A report covers at most 366 days: from must lie at most 366 days before to.", field: "from")
        }
        return (from, to)
    }

    private func report(
        _ query: ElevationQuery, from: Date, to: Date, tenants: [TenantID]?, in tx: Transaction
    ) async throws -> ElevationReport {
        var report = ElevationReport(
            from: from, to: to, grouping: query.grouping,
            minimumApprovals: query.grouping == .candidates ? query.minimumApprovals : nil, applications: [], users: [],
            isTruncated: false
        )
        // One row more than asked tells whether the report is cut short.
        switch query.grouping {
        case .application, .candidates:
            let rows = try await tx.elevationReports.applications(
                from: from, to: to, tenants: tenants,
                minimumApprovals: query.grouping == .candidates ? query.minimumApprovals : nil, limit: query.limit + 1
            )
            report.applications = Array(rows.prefix(query.limit))
            report.isTruncated = rows.count > query.limit
        case .user:
            let rows = try await tx.elevationReports.users(from: from, to: to, tenants: tenants, limit: query.limit + 1)
            report.users = Array(rows.prefix(query.limit))
            report.isTruncated = rows.count > query.limit
        }
        return report
    }
}
