import CharterAgentWire
import CharterCore
import CharterServices
import CharterStore
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing

@testable import CharterServer

/// The connector data routes over HTTP: encodings, limits, and the codes a connector acts on. The connector's
/// authentication is the test's (a bearer naming the connector id); the token scheme is tested with it.
@Suite("Connector run routes")
struct ConnectorRunRoutesTests {
    /// The routes as `buildRouter` mounts them, with `Bearer test:<connector id>` as the credential.
    static func run(_ body: @Sendable (any TestClientProtocol) async throws -> Void) async throws {
        try await TestApp.withService { database in
            let router = Router(context: AppRequestContext.self)
            router.add(middleware: ProblemMiddleware())
            ConnectorRunRoutes(
                authenticate: { request, _ in
                    guard let header = request.headers[.authorization], header.hasPrefix("Bearer test:"),
                        let id = ConnectorID(String(header.dropFirst("Bearer test:".count)))
                    else { throw Problem(.unauthorized, "A test connector is required.") }
                    return try await TestConnectors.authenticated(id)
                },
                service: ConnectorSyncService(database: database), maximumBodyBytes: 65536
            ).register(
                on: router.group().add(
                    middleware: BodyLimitMiddleware(maximumBytes: ConnectorPageCodec.maximumSentBytes, collectsBody: false)
                )
            )
            try await Application(router: router).test(.router, body)
        }
    }

    @Test("pages go up gzip or identity and are acknowledged; conflicts, gaps and bad input get the protocol's codes")
    func uploadOverHTTP() async throws {
        let tests = ConnectorSyncTests()
        let (world, connection, site, _, _) = try await tests.fixture("conn-http")
        let auth: HTTPFields = [.authorization: "Bearer test:\(site.connector.connector)"]
        let run = try await tests.sync(world, connection) { run in
            let upload = try await site.read(try await site.awaitRun(run))
            let plain = try TestSite.json(upload.pages[0])
            try await Self.run { client in
                let pages = "/v1/connector/runs/\(run)/pages"
                func put(_ number: Int, _ body: ByteBuffer, encoding: String?) async throws -> Answer {
                    var headers = auth
                    headers[.contentType] = "application/json"
                    if let encoding { headers[.contentEncoding] = encoding }
                    return try await client.send(.put, "\(pages)/\(number)", body: body, headers: headers)
                }
                let first = try await put(1, try TestSite.gzip(upload.pages[0]), encoding: "gzip")
                #expect(first.status == .ok, "\(first.json)")
                #expect(first.json["page"] as? Double == 1 && first.json["pages_received"] as? Double == 1)
                // The same page, sent without compression: the same decompressed bytes, the same answer.
                #expect(try await put(1, ByteBuffer(bytes: plain), encoding: nil).status == .ok)
                var changed = upload.pages[0]
                changed.objects[0].displayName = "Changed"
                let conflict = try await put(1, ByteBuffer(bytes: try TestSite.json(changed)), encoding: "identity")
                expectProblem(conflict, 409, field: "page")
                #expect(conflict.json["code"] as? String == "page-conflict")
                expectProblem(try await put(2, ByteBuffer(bytes: plain), encoding: "br"), 415, field: "Content-Encoding")
                expectProblem(try await put(0, ByteBuffer(bytes: plain), encoding: nil), 400, field: "page")
                expectProblem(
                    try await put(2, ByteBuffer(string: #"{"objects":[],"deleted":["zz"]}"#), encoding: nil), 422,
                    field: "/deleted/0"
                )
                let large = ByteBuffer(repeating: UInt8(ascii: " "), count: ConnectorPageCodec.maximumSentBytes + 1)
                expectProblem(try await put(2, large, encoding: nil), 413)
                expectProblem(try await put(2, ByteBuffer(string: "not gzip"), encoding: "gzip"), 400)
                expectProblem(
                    try await client.send(.put, "/v1/connector/runs/\(UUID())/pages/1", body: ByteBuffer(bytes: plain), headers: auth),
                    404
                )
                expectProblem(try await client.send(.get, "/v1/connector/work", body: nil, headers: [:]), 401)

                let work = try await client.send(.get, "/v1/connector/work", body: nil, headers: auth)
                let runs = try #require(work.json["runs"] as? [[String: any Sendable]])
                #expect(runs.first?.getString("run_id") == run.description)
                #expect(runs.first?["pages_received"] as? Double == 1)

                var early = upload.completion
                early.pages = upload.pages.count + 1
                let missing = try await client.send(
                    .post, "/v1/connector/runs/\(run)/complete", body: ByteBuffer(bytes: try JSONEncoder().encode(early)),
                    headers: auth
                )
                expectProblem(missing, 409, field: "/pages")
                #expect(missing.json["code"] as? String == "pages-missing")
                #expect((missing.json["detail"] as? String)?.contains("\(early.pages)") == true)

                for (index, page) in upload.pages.enumerated().dropFirst() {
                    #expect(try await put(index + 1, try TestSite.gzip(page), encoding: "gzip").status == .ok)
                }
                let status = try await client.send(.get, "/v1/connector/runs/\(run)", body: nil, headers: auth)
                #expect(status.json["status"] as? String == "running")
                #expect(status.json["pages_received"] as? Double == Double(upload.pages.count))
                let completed = try await client.send(
                    .post, "/v1/connector/runs/\(run)/complete",
                    body: ByteBuffer(bytes: try JSONEncoder().encode(upload.completion)), headers: auth
                )
                #expect(completed.status == .accepted, "\(completed.json)")
                #expect(completed.json["status"] as? String == "applying")
            }
        }
        #expect(run.status == .succeeded, "\(run.error ?? "")")
        try await Self.run { client in
            let late = try await client.send(
                .post, "/v1/connector/runs/\(run.id)/fail", body: ByteBuffer(string: #"{"error":"too late"}"#),
                headers: auth
            )
            expectProblem(late, 409)
            #expect(late.json["code"] as? String == "run-closed")
        }
    }
}

extension TestClientProtocol {
    /// Sends a request with the given headers and raw body, decoding a JSON answer.
    func send(_ method: HTTPRequest.Method, _ uri: String, body: ByteBuffer?, headers: HTTPFields) async throws -> Answer {
        try await execute(uri: uri, method: method, headers: headers, body: body) { response in
            let object = (try? JSONSerialization.jsonObject(with: Data(response.body.readableBytesView))) as? [String: Any]
            return Answer(status: response.status, headers: response.headers, json: (object ?? [:]).mapValues { SendableJSON.wrap($0) })
        }
    }
}

extension Dictionary where Key == String, Value == any Sendable {
    func getString(_ key: String) -> String? { self[key] as? String }
}
