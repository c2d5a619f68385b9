@testable import CharterServer
import CharterStore
import Foundation
import Testing

/// What a client sees of a store failure: a status and a generic detail, never a table, constraint or SQLSTATE.
@Suite("Problem mapping of store errors")
struct ProblemMappingTests {
    @Test(
        "store errors map to problems that name no constraint or SQLSTATE",
        arguments: [
            (StoreError.alreadyExists(constraint: "devices_tenant_id_signing_key_key"), 409),
            (StoreError.constraintViolated(constraint: "enrollment_tokens_check"), 409),
            (StoreError.unexpected(sqlState: "42P01"), 500),
            (StoreError.retryable, 503),
            (StoreError.notFound, 404),
        ]
    )
    func storeErrors(error: StoreError, status: Int) {
        let problem = ProblemMiddleware<AppRequestContext>.problem(for: error)
        #expect(problem.kind.status == status)
        let text = String(decoding: problem.encoded(requestID: nil), as: UTF8.self)
        for leak in ["devices_", "enrollment_tokens", "_key", "_check", "42P01", "constraint"] {
            #expect(!text.contains(leak), "\(text)")
        }
    }
}
