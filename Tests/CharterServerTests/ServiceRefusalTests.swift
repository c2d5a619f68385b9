import CharterCore
import CharterJSON
import CharterServices
import CharterStore
import Foundation
import Testing

@testable import CharterServer

/// The problem documents the admin services' refusals become: exactly those their handlers used to throw.
@Suite("Service refusals as problem documents")
struct ServiceRefusalTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var error: any Error & Sendable
        var status: Int
        var code: String
        var detail: String
        var field: String?

        var testDescription: String { "\(error)" }
    }

    static let guid = ObjectGUID("4f3c2a1e-0000-4000-8000-000000000001")!
    static let subsetting = SubsettingID("0b7f7a5e-3c1d-4e0a-9f11-2a4c5d6e7f80")!

    static let cases: [Case] = [
        Case(
            error: TenancyError.duplicateTenantName("Acme"), status: 409, code: "conflict",
            detail: "The MSP already has a tenant named 'Acme'.", field: "/name"
        ),
        Case(
            error: TenancyError.expiryInPast, status: 422, code: "validation-failed",
            detail: "expires_at must lie in the future.", field: "/expires_at"
        ),
        Case(
            error: PolicyError.positionOutOfRange(maximum: 3), status: 422, code: "validation-failed",
            detail: "position must be between 0 and 3.", field: "position"
        ),
        Case(
            error: PolicyError.notInDirectory(field: "computer", guid), status: 404, code: "not-found",
            detail: "The tenant's directory has no computer \(guid).", field: "computer"
        ),
        Case(
            error: PolicyError.orderMismatch(.duplicate(subsetting, index: 2)), status: 422,
            code: "validation-failed", detail: "Subsetting \(subsetting) is listed more than once.", field: "/ids/2"
        ),
        Case(
            error: PolicyError.orderMismatch(.missing(subsetting)), status: 422, code: "validation-failed",
            detail: "Subsetting \(subsetting) is missing from the order; list every subsetting.", field: "/ids"
        ),
        Case(
            error: PolicyError.unknownScopeObjects([
                Refusal.Issue(pointer: "/scope/groups/0", detail: "the tenant's directory has no group \(guid)"),
                Refusal.Issue(pointer: "/scope/ous/1", detail: "the tenant's directory has no OU \(guid)"),
            ]),
            status: 422, code: "validation-failed",
            detail:
                "The scope names objects the directory does not have: /scope/groups/0 the tenant's directory has no group \(guid).",
            field: "/scope/groups/0"
        ),
        Case(
            error: RequestError.reasonRequired, status: 422, code: "validation-failed",
            detail:
                "The policy for this user and computer requires a reason; ask the user for one and send the request again.",
            field: "/reason"
        ),
        Case(
            error: RequestError.commentTooLong, status: 422, code: "validation-failed",
            detail: "comment may have at most 2000 characters.", field: "/comment"
        ),
        Case(
            error: RequestError.alreadyDecided(.pending), status: 409, code: "conflict",
            detail: "The request is expired already; it cannot be decided again."
        ),
        Case(
            error: RequestError.alreadyDecided(.approved), status: 409, code: "conflict",
            detail: "The request is approved already; it cannot be decided again."
        ),
        Case(
            error: RequestError.notRequestOfDevice, status: 404, code: "not-found",
            detail: "No such request of this device."
        ),
        Case(
            error: WebhookError.invalidURL, status: 422, code: "validation-failed",
            detail: "url must be an absolute http or https URL.", field: "/url"
        ),
    ]

    @Test("each refusal renders as the problem its handler threw", arguments: cases)
    func rendered(_ expected: Case) {
        let problem = ProblemMiddleware<AppRequestContext>.problem(for: expected.error)
        #expect(problem.kind.status == expected.status)
        #expect(problem.kind.rawValue == expected.code)
        #expect(problem.detail == expected.detail)
        #expect(problem.field == expected.field)
    }

    @Test("an invalid document lists every issue, the first as its field")
    func invalidDocument() {
        let error = PolicyError.invalidDocument(
            DocumentError(issues: [
                DocumentIssue(pointer: "/mode", message: "must be one of audit, approval, deny"),
                DocumentIssue(pointer: "/approval/timeout_minutes", message: "must be at least 1"),
            ]),
            of: "settings document"
        )
        let problem = ProblemMiddleware<AppRequestContext>.problem(for: error)
        #expect(problem.kind == .validationFailed)
        #expect(
            problem.detail
                == "The settings document is invalid: /mode must be one of audit, approval, deny (and 1 more, listed in errors)."
        )
        #expect(problem.field == "/mode")
        #expect(problem.issues.map(\.pointer) == ["/mode", "/approval/timeout_minutes"])
    }
}
