import CharterCore
import CharterJSON
import CharterServices
import CharterStore
import Foundation
import OpenAPIRuntime

extension APIHandler {
    func listRequests(_ input: Operations.ListRequests.Input) async throws -> Operations.ListRequests.Output {
        let call = try TenantCall.authorize(.read, tenant: input.path.tenant)
        let query = input.query
        let filter = try Self.filter(
            status: query.status, kind: query.kind?.rawValue, user: query.user, computer: query.computer,
            from: query.from, until: query.until
        )
        let limit = try Input.limit(query.limit)
        let found = try await requests.list(
            of: call.tenant, msp: call.msp, matching: filter, after: try Self.requestCursor(query.cursor),
            limit: limit + 1, by: call.caller
        )
        return .ok(.init(body: .json(Self.page(found, limit: limit))))
    }

    func listMSPRequests(_ input: Operations.ListMSPRequests.Input) async throws -> Operations.ListMSPRequests.Output {
        let call = try MSPCall.authorize(.read, msp: input.path.msp)
        let query = input.query
        let filter = try Self.filter(
            status: query.status, kind: query.kind?.rawValue, user: query.user, computer: query.computer,
            from: query.from, until: query.until
        )
        let limit = try Input.limit(query.limit)
        let found = try await requests.list(
            ofMSP: call.msp, matching: filter, after: try Self.requestCursor(query.cursor), limit: limit + 1,
            by: call.caller
        )
        return .ok(.init(body: .json(Self.page(found, limit: limit))))
    }

    func getRequest(_ input: Operations.GetRequest.Input) async throws -> Operations.GetRequest.Output {
        let call = try TenantCall.authorize(.read, tenant: input.path.tenant)
        let id = try Self.requestID(input.path.id)
        let request = try await requests.get(id, of: call.tenant, msp: call.msp, by: call.caller)
        return .ok(.init(body: .json(.init(request))))
    }

    func approveRequest(_ input: Operations.ApproveRequest.Input) async throws -> Operations.ApproveRequest.Output {
        guard case .json(let body) = input.body else { throw Problem(.unsupportedMediaType, "Send JSON.") }
        // Adding to the pre-approved applications edits policy, which needs `admin`.
        let call = try TenantCall.authorize(
            body.addToPreApproved == nil ? .approve : .configure, tenant: input.path.tenant
        )
        let preApproval = try body.addToPreApproved.map(Self.preApproval)
        if case .baseline = preApproval?.target {
            // A baseline is the MSP's: only who may edit baselines may add to one.
            try call.scope.principal.authorizeMSP(.configure, msp: call.msp)
        }
        let id = try Self.requestID(input.path.id)
        let group = try body.group.map { raw in
            guard let guid = ObjectGUID(raw) else {
                throw Problem(.validationFailed, "group must be an objectGUID such as 4f3c2a1e-….", field: "/group")
            }
            return guid
        }
        let options = RequestService.ApprovalOptions(
            scope: body.scope.flatMap { StandingApproval.Scope.Kind(rawValue: $0.rawValue) } ?? .request, group: group,
            durationMinutes: body.durationMinutes, preApproval: preApproval
        )
        let decided = try await requests.approve(
            id, comment: body.comment, options: options, of: call.tenant, msp: call.msp, by: call.caller
        )
        return .ok(.init(body: .json(.init(decided))))
    }

    /// The pre-approval of an approval body: its target, and the entry's members as JSON for Core's decoder.
    private static func preApproval(_ input: Components.Schemas.AddToPreApproved) throws -> RequestService.PreApproval {
        let owned: [(String, String?, Components.Schemas.AddToPreApproved.TargetPayload)] = [
            ("subsetting", input.subsetting, .subsetting), ("baseline", input.baseline, .baseline),
        ]
        for (name, value, owner) in owned where value != nil && input.target != owner {
            throw Problem(
                .validationFailed, "\(name) applies only to the target \(name).",
                field: "\(RequestService.preApprovalPointer)/\(name)"
            )
        }
        let target: RequestService.PreApproval.Target =
            switch input.target {
            case .settings: .settings
            case .subsetting: .subsetting(SubsettingID(try targetID(input.subsetting, named: "subsetting")))
            case .baseline: .baseline(BaselineID(try targetID(input.baseline, named: "baseline")))
            }
        var entry: [String: JSONValue] = [:]
        entry["protection"] = try JSONValue.parseDocument(JSONEncoder().encode(input.protection))
        entry["file_name"] = input.fileName.map(JSONValue.string)
        entry["kind"] = input.kind.map { .string($0.rawValue) }
        entry["applies_to"] = input.appliesTo.map { .array($0.map { .string($0.rawValue) }) }
        entry["log_to_audit"] = input.logToAudit.map(JSONValue.bool)
        return RequestService.PreApproval(target: target, entry: entry)
    }

    /// The id member `name` of a pre-approval, required with the target of that name.
    private static func targetID(_ raw: String?, named name: String) throws -> UUID {
        let pointer = "\(RequestService.preApprovalPointer)/\(name)"
        guard let raw else {
            throw Problem(.validationFailed, "The target \(name) needs \(name): the \(name)'s id.", field: pointer)
        }
        guard let id = UUID(uuidString: raw) else {
            throw Problem(.validationFailed, "\(name) must be a \(name) id (a UUID).", field: pointer)
        }
        return id
    }

    func denyRequest(_ input: Operations.DenyRequest.Input) async throws -> Operations.DenyRequest.Output {
        guard case .json(let body) = input.body else { throw Problem(.unsupportedMediaType, "Send JSON.") }
        let call = try TenantCall.authorize(.approve, tenant: input.path.tenant)
        let id = try Self.requestID(input.path.id)
        let decided = try await requests.decide(
            id, approve: false, comment: body.comment, of: call.tenant, msp: call.msp, by: call.caller
        )
        return .ok(.init(body: .json(.init(decided))))
    }

    private static func requestID(_ raw: String) throws -> UUID {
        guard let id = UUID(uuidString: raw) else {
            throw Problem(.malformedRequest, "The id must be a UUID such as 0b7f7a5e-3c1d-4e0a-9f11-2a4c5d6e7f80.", field: "id")
        }
        return id
    }

    private static func filter(
        status: Components.Schemas.RequestStatus?, kind: String?, user: String?, computer: String?, from: Date?,
        until: Date?
    ) throws -> RequestFilter {
        let user = try Input.text(user, field: "user", maxLength: 1024)
        let computer = try Input.text(computer, field: "computer", maxLength: 253)
        return RequestFilter(
            status: status.flatMap { StoredRequest.Status(rawValue: $0.rawValue) },
            kind: kind.flatMap(ElevationKind.init(rawValue:)), user: user, computer: computer, from: from, until: until
        )
    }

    private static func requestCursor(_ raw: String?) throws -> RequestCursor? {
        guard let raw else { return nil }
        let parts = raw.split(separator: "_", omittingEmptySubsequences: false)
        guard parts.count == 2, parts[0].utf8.count <= 18, parts[0].utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
            let micros = Int64(parts[0]), let id = UUID(uuidString: String(parts[1]))
        else { throw Cursor.malformed }
        return RequestCursor(createdAt: Date(timeIntervalSince1970: TimeInterval(micros) / 1_000_000), id: id)
    }

    private static func page(_ requests: [StoredRequest], limit: Int) -> Components.Schemas.RequestList {
        let page = requests.prefix(limit)
        let next = requests.count > limit ? page.last.map {
            "\(Int64(($0.createdAt.timeIntervalSince1970 * 1_000_000).rounded()))_\($0.id.uuidString)"
        } : nil
        return .init(items: page.map(Components.Schemas.Request.init), nextCursor: next)
    }
}

extension Components.Schemas.Request {
    init(_ request: StoredRequest) {
        let source: Components.Schemas.RequestPolicySource =
            switch request.source {
            case .global: .init(source: .global)
            case .subsetting(let id, let name): .init(source: .subsetting, subsettingId: id.description, subsettingName: name)
            }
        self.init(
            id: request.id.uuidString.lowercased(), tenantId: request.tenant.description,
            deviceId: request.device.description, hostname: request.hostname,
            computerGuid: request.computer?.description, kind: request.kind == .runAsAdmin ? .runAsAdmin : .adminSession,
            user: .init(sid: request.userSID, guid: request.userGUID?.description, upn: request.userUPN),
            directoryUserGuid: request.directoryUser?.description,
            application: request.application.map {
                .init(
                    fileName: $0.fileName, path: $0.path, sha256: $0.sha256, signerSubject: $0.signerSubject,
                    certificateThumbprint: $0.certificateThumbprint, vendor: $0.vendor
                )
            },
            reason: request.reason, status: .init(rawValue: request.status.rawValue) ?? .pending,
            logged: request.isLogged, pinOverride: request.allowsPINOverride, decidedByPolicy: source,
            explanation: request.decisionReason, sessionMinutes: request.sessionMinutes, createdAt: request.createdAt,
            expiresAt: request.expiresAt, decidedAt: request.decidedAt, decidedBy: request.decidedBy,
            comment: request.comment
        )
    }
}
