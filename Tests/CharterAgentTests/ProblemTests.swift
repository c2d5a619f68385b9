import CharterAgent
import Foundation
import Testing

@Suite("Problems and Retry-After")
struct ProblemTests {
    @Test("a problem document decodes every member and ignores unknown ones")
    func fullProblem() throws {
        let json = """
            {"type":"https://charter.example/problems/validation-failed","title":"Validation failed","status":422,
             "detail":"encryption_key must be an X25519 key.","field":"/encryption_key/crv","code":"validation_failed",
             "errors":[{"pointer":"/encryption_key/crv"}],"instance":"/v1/agent/enroll"}
            """
        let problem = try #require(Problem.decode(from: Data(json.utf8)))
        #expect(
            problem
                == Problem(
                    type: "https://charter.example/problems/validation-failed",
                    title: "Validation failed",
                    status: 422,
                    detail: "encryption_key must be an X25519 key.",
                    field: "/encryption_key/crv",
                    code: "validation_failed"
                )
        )
    }

    @Test("missing or mistyped members read as absent; type defaults to about:blank")
    func lenientProblem() throws {
        let problem = try #require(Problem.decode(from: Data(#"{"status":"401","title":7,"detail":"no token"}"#.utf8)))
        #expect(problem == Problem(detail: "no token"))
        #expect(problem.type == "about:blank")
    }

    @Test("a body that is not a JSON object is no problem", arguments: ["", "[]", "\"text\"", "<html>", "{"])
    func notAProblem(body: String) {
        #expect(Problem.decode(from: Data(body.utf8)) == nil)
    }

    @Test("an error names the status, the detail and the field")
    func errorDescription() {
        let error = AgentError.status(422, problem: Problem(detail: "bad key", field: "/signing_key"), retryAfter: nil)
        #expect(error.description == "HTTP 422: bad key (field /signing_key)")
        #expect(error.statusCode == 422)
        #expect(error.problem?.field == "/signing_key")
        #expect(!error.isRetryable)
        #expect(AgentError.status(503, problem: nil, retryAfter: nil).isRetryable)
        #expect(AgentError.status(429, problem: nil, retryAfter: nil).isRetryable)
        #expect(AgentError.status(401, problem: nil, retryAfter: nil).description == "HTTP 401 without a problem document")
    }

    @Test("Retry-After in seconds", arguments: [("0", Duration.zero), ("7", .seconds(7)), (" 120 ", .seconds(120))])
    func retryAfterSeconds(value: String, expected: Duration) {
        #expect(AgentError.retryAfter(value, now: Date()) == expected)
    }

    @Test("Retry-After as an HTTP date counts from now and is never negative")
    func retryAfterDate() {
        let now = Date(timeIntervalSince1970: 1_767_225_600)  // Thu, 01 Jan 2026 00:00:00 GMT
        #expect(AgentError.retryAfter("Thu, 01 Jan 2026 00:00:30 GMT", now: now) == .seconds(30))
        #expect(AgentError.retryAfter("Wed, 31 Dec 2025 23:59:00 GMT", now: now) == .zero)
    }

    @Test("a Retry-After that is neither form is ignored", arguments: ["", "-1", "1.5", "soon", "30s"])
    func retryAfterInvalid(value: String) {
        #expect(AgentError.retryAfter(value, now: Date()) == nil)
    }
}
