import AsyncHTTPClient
import CharterAgent
import Foundation
import NIOCore
import NIOFoundationCompat
import NIOHTTP1

/// Approves a tenant's pending requests through the admin API, as an approver would:
/// `POST /v1/tenants/{tenant}/requests/{id}/approve`.
struct RequestApprover: Sendable {
    let httpClient: HTTPClient
    /// `<server>/v1/tenants/<tenant>/requests`.
    let requestsURL: String
    /// A key with the approver role or above over the tenant.
    let apiKey: String

    /// The comment every approval carries.
    static let comment = "approved by charter agent simulate"

    /// Approves one request.
    ///
    /// - Throws: ``AgentError`` when the service does not answer `200` (`403` for a key below approver,
    ///   `409` for a request decided already), or a transport error.
    func approve(_ id: String) async throws {
        var request = HTTPClientRequest(url: "\(requestsURL)/\(id)/approve")
        request.method = .POST
        request.headers.add(name: "Authorization", value: "Bearer \(apiKey)")
        request.headers.add(name: "Content-Type", value: "application/json")
        request.body = .bytes(ByteBuffer(string: #"{"comment":"\#(Self.comment)"}"#))
        let response = try await httpClient.execute(request, timeout: .seconds(30))
        let body = try await response.body.collect(upTo: 1 << 20)
        guard response.status == .ok else {
            throw AgentError.status(Int(response.status.code), problem: Problem.decode(from: Data(buffer: body)), retryAfter: nil)
        }
    }
}
