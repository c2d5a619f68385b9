import CharterCore
import CharterServices
import CharterStore
import Foundation
import OpenAPIRuntime

extension APIHandler {
    func getTenantElevationReport(
        _ input: Operations.GetTenantElevationReport.Input
    ) async throws -> Operations.GetTenantElevationReport.Output {
        let call = try TenantCall.authorize(.read, tenant: input.path.tenant)
        let query = input.query
        let format = try ReportAnswerFormat.choose(query.format, accept: input.headers.accept)
        let report = try await reports.elevations(
            try Self.elevationQuery(
                from: query.from, to: query.to, group: query.group, minApprovals: query.minApprovals, limit: query.limit
            ),
            of: call.tenant, msp: call.msp, by: call.caller
        )
        switch format {
        case .csv: return .ok(.init(body: .csv(HTTPBody(ElevationReportCSV.text(report)))))
        case .json: return .ok(.init(body: .json(.init(report))))
        }
    }

    func getMSPElevationReport(
        _ input: Operations.GetMSPElevationReport.Input
    ) async throws -> Operations.GetMSPElevationReport.Output {
        // Whoever may read some tenant of the MSP gets the report of exactly those tenants.
        let call = try MSPCall.authorize(.read, msp: input.path.msp, allowTenantScope: true)
        let query = input.query
        let format = try ReportAnswerFormat.choose(query.format, accept: input.headers.accept)
        let report = try await reports.elevations(
            try Self.elevationQuery(
                from: query.from, to: query.to, group: query.group, minApprovals: query.minApprovals, limit: query.limit
            ),
            ofMSP: call.msp, tenants: call.scope.principal.readableTenants(in: call.msp), by: call.caller
        )
        switch format {
        case .csv: return .ok(.init(body: .csv(HTTPBody(ElevationReportCSV.text(report)))))
        case .json: return .ok(.init(body: .json(.init(report))))
        }
    }

    private static func elevationQuery(
        from: Date?, to: Date?, group: Components.Schemas.ElevationReportGroup?, minApprovals: Int?, limit: Int?
    ) throws -> ReportService.ElevationQuery {
        let minimum = minApprovals ?? 3
        guard (1...10_000).contains(minimum) else {
            throw Problem(.malformedRequest, "min_approvals must be between 1 and 10000.", field: "min_approvals")
        }
        let rows = limit ?? 100
        guard (1...10_000).contains(rows) else {
            throw Problem(.malformedRequest, "limit must be between 1 and 10000.", field: "limit")
        }
        let grouping = group.flatMap { ReportService.Grouping(rawValue: $0.rawValue) } ?? .application
        return ReportService.ElevationQuery(from: from, to: to, grouping: grouping, minimumApprovals: minimum, limit: rows)
    }
}

/// How a report is answered: the `format` parameter, else what the `Accept` header prefers.
enum ReportAnswerFormat: Equatable {
    case json, csv

    var mediaType: String {
        switch self {
        case .json: "application/json"
        case .csv: "text/csv"
        }
    }

    /// The format `format` names, or the one the `Accept` header ranks first (JSON without a header).
    ///
    /// - Throws: ``Problem`` (400, `Accept`) when the header allows neither the format asked for nor, without one,
    ///   JSON or CSV: the generated server would otherwise fail to write the answer.
    static func choose<Content: AcceptableProtocol>(
        _ format: Components.Schemas.ReportFormat?, accept: [AcceptHeaderContentType<Content>]
    ) throws -> ReportAnswerFormat {
        let ranges = accept.filter { $0.quality.doubleValue > 0 }.sorted { $0.quality.doubleValue > $1.quality.doubleValue }
            .map { $0.contentType.rawValue.lowercased() }
        if let format {
            let chosen: ReportAnswerFormat = format == .csv ? .csv : .json
            let type = chosen.mediaType
            let family = String(type.prefix { $0 != "/" }) + "/*"
            guard accept.isEmpty || ranges.contains(where: { $0 == type || $0 == family || $0 == "*/*" }) else {
                throw Problem(
                    .malformedRequest, "The Accept header does not allow \(type), which format=\(format.rawValue) asks for.",
                    field: "Accept"
                )
            }
            return chosen
        }
        guard !accept.isEmpty else { return .json }
        for range in ranges {
            if range == "text/csv" || range == "text/*" { return .csv }
            if range == "application/json" || range == "application/*" || range == "*/*" { return .json }
        }
        throw Problem(.malformedRequest, "The Accept header must allow application/json or text/csv.", field: "Accept")
    }
}

extension Components.Schemas.ElevationReport {
    init(_ report: ReportService.ElevationReport) {
        let isUsers = report.grouping == .user
        self.init(
            from: report.from, to: report.to, group: .init(report.grouping), minApprovals: report.minimumApprovals,
            truncated: report.isTruncated,
            applications: isUsers ? nil : report.applications.map(Components.Schemas.ElevationApplicationRow.init),
            users: isUsers ? report.users.map(Components.Schemas.ElevationUserRow.init) : nil
        )
    }
}

extension Components.Schemas.ElevationReportGroup {
    init(_ grouping: ReportService.Grouping) {
        switch grouping {
        case .application: self = .application
        case .user: self = .user
        case .candidates: self = .candidates
        }
    }
}

extension Components.Schemas.ElevationApplicationRow {
    init(_ row: ApplicationReportRow) {
        self.init(
            fileName: row.fileName, sha256: row.sha256, signerSubject: row.signerSubject,
            certificateThumbprint: row.certificateThumbprint, vendor: row.vendor, path: row.path,
            requests: row.counts.requests, allowed: row.counts.allowed, approved: row.counts.approved,
            denied: row.counts.denied, pending: row.counts.pending, expired: row.counts.expired, users: row.users,
            devices: row.devices, tenants: row.tenants, firstRequestedAt: row.firstRequestedAt,
            lastRequestedAt: row.lastRequestedAt
        )
    }
}

extension Components.Schemas.ElevationUserRow {
    init(_ row: UserReportRow) {
        self.init(
            tenantId: row.tenant.description, directoryUser: row.directoryUser.map(Components.Schemas.DirectoryUserIdentity.init),
            sid: row.reported.sid, guid: row.reported.guid?.description, upn: row.reported.upn,
            requests: row.counts.requests, runAsAdmin: row.runAsAdmin, adminSession: row.adminSession,
            allowed: row.counts.allowed, approved: row.counts.approved, denied: row.counts.denied,
            pending: row.counts.pending, expired: row.counts.expired, applications: row.applications,
            devices: row.devices, firstRequestedAt: row.firstRequestedAt, lastRequestedAt: row.lastRequestedAt
        )
    }
}

/// Elevation reports as CSV: RFC 4180 with a header row, every cell through ``AuditExport/csvField(_:)`` (the
/// audit export's quoting and formula neutralising).
enum ElevationReportCSV {
    static let applicationColumns = [
        "file_name", "sha256", "signer_subject", "certificate_thumbprint", "vendor", "path", "requests", "allowed",
        "approved", "denied", "pending", "expired", "users", "devices", "tenants", "first_requested_at",
        "last_requested_at",
    ]

    static let userColumns = [
        "tenant_id", "directory_user_guid", "sam_account_name", "user_principal_name", "display_name", "sid", "guid",
        "upn", "requests", "run_as_admin", "admin_session", "allowed", "approved", "denied", "pending", "expired",
        "applications", "devices", "first_requested_at", "last_requested_at",
    ]

    static func text(_ report: ReportService.ElevationReport) -> String {
        let lines: [[String?]]
        switch report.grouping {
        case .application, .candidates:
            lines = [applicationColumns.map(Optional.some)] + report.applications.map(fields)
        case .user:
            lines = [userColumns.map(Optional.some)] + report.users.map(fields)
        }
        return lines.map { $0.map { AuditExport.csvField($0 ?? "") }.joined(separator: ",") + "\r\n" }.joined()
    }

    /// One application's row, in `applicationColumns`' order.
    private static func fields(_ row: ApplicationReportRow) -> [String?] {
        let counts = row.counts
        return [
            row.fileName, row.sha256, row.signerSubject, row.certificateThumbprint, row.vendor, row.path,
            String(counts.requests), String(counts.allowed), String(counts.approved), String(counts.denied),
            String(counts.pending), String(counts.expired), String(row.users), String(row.devices),
            String(row.tenants), time(row.firstRequestedAt), time(row.lastRequestedAt),
        ]
    }

    /// One user's row, in `userColumns`' order.
    private static func fields(_ row: UserReportRow) -> [String?] {
        let counts = row.counts
        return [
            row.tenant.description, row.directoryUser?.guid.description, row.directoryUser?.samAccountName,
            row.directoryUser?.userPrincipalName, row.directoryUser?.displayName, row.reported.sid,
            row.reported.guid?.description, row.reported.upn, String(counts.requests), String(row.runAsAdmin),
            String(row.adminSession), String(counts.allowed), String(counts.approved), String(counts.denied),
            String(counts.pending), String(counts.expired), String(row.applications), String(row.devices),
            time(row.firstRequestedAt), time(row.lastRequestedAt),
        ]
    }

    private static func time(_ date: Date) -> String {
        date.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))
    }
}
