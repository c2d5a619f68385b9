import AsyncHTTPClient
import CharterAgent
import CharterBundle
import CharterCore
import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import NIOFoundationCompat
import NIOHTTP1
import Synchronization
import Testing

/// The product's main flow with real processes: a request arrives, the approver's webhook fires (after one
/// failed attempt), the approver approves through the API, and the agent's event stream delivers the
/// decision.
@Suite("Request flow with webhooks")
struct WebhookFlowTests {
    /// What the local receiver got.
    final class Inbox: Sendable {
        struct Delivery: Sendable {
            var event: String
            var id: String
            var signature: String
            var body: Data
        }

        private let state: Mutex<(deliveries: [Delivery], failFirst: Bool)>

        /// - Parameter failsFirst: Answer the very first delivery 500, to exercise the retry.
        init(failsFirst: Bool = true) {
            state = Mutex(([], failsFirst))
        }

        /// Records a delivery; the very first one is answered 500 when the inbox fails first.
        func receive(_ delivery: Delivery) -> HTTPResponse.Status {
            state.withLock { state in
                if state.failFirst {
                    state.failFirst = false
                    return .internalServerError
                }
                state.deliveries.append(delivery)
                return .ok
            }
        }

        var deliveries: [Delivery] { state.withLock { $0.deliveries } }

        /// Waits (a hang is bounded at 30 s) for a delivery of `event`.
        func wait(for event: String) async throws -> Delivery {
            for _ in 0..<300 {
                if let found = deliveries.first(where: { $0.event == event }) { return found }
                try await Task.sleep(for: .milliseconds(100))
            }
            throw PushTestError.timedOut
        }
    }

    static func receiver(_ inbox: Inbox) -> some ApplicationProtocol {
        let router = Router()
        router.post("/hook") { request, _ -> Response in
            let body = try await request.body.collect(upTo: 1 << 20)
            let status = inbox.receive(
                .init(
                    event: request.headers[HTTPField.Name("Charter-Event")!] ?? "",
                    id: request.headers[HTTPField.Name("Charter-Delivery")!] ?? "",
                    signature: request.headers[HTTPField.Name("Charter-Signature")!] ?? "",
                    body: Data(buffer: body)
                )
            )
            return Response(status: status)
        }
        return Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)))
    }

    /// Checks `t=…,v1=…` as a receiver should.
    static func verify(_ delivery: Inbox.Delivery, secret: Data) -> Bool {
        let parts = Dictionary(
            uniqueKeysWithValues: delivery.signature.split(separator: ",").compactMap { part -> (String, String)? in
                let pair = part.split(separator: "=", maxSplits: 1)
                return pair.count == 2 ? (String(pair[0]), String(pair[1])) : nil
            }
        )
        guard let timestamp = parts["t"], let mac = parts["v1"], let seconds = Double(timestamp),
            abs(Date().timeIntervalSince1970 - seconds) < 300
        else { return false }
        var message = Data("\(timestamp).".utf8)
        message.append(delivery.body)
        let expected = HMAC<SHA256>.authenticationCode(for: message, using: SymmetricKey(data: secret))
            .map { String(format: "%02x", $0) }.joined()
        return expected == mac
    }

    @Test("request → signed webhook (retried once) → approval through the API → decision on the agent's stream")
    func approvalFlow() async throws {
        let world = try await TestApp.makeWorld(tenants: 1)
        let tenant = world.tenants[0]
        let key = world.tenantKeys[0]
        let inbox = Inbox()
        try await Self.receiver(inbox).test(.live) { receiver in
            let hookURL = "http://127.0.0.1:\(try #require(receiver.port))/hook"
            let http = HTTPClient(eventLoopGroupProvider: .singleton)
            do {
                let replica = try await ServeProcess.start(
                    environment: ["CHARTER_WEBHOOKS_RETRY_BASE_SECONDS": "1"], http: http
                )
                let base = replica.baseURL + "/v1/tenants/\(tenant)"
                let hook = try await PushTests.admin(
                    http, .POST, base + "/webhooks", key: key,
                    body: #"{"url":"\#(hookURL)","events":["request.created","request.decided","request.expired"]}"#
                )
                #expect(hook.status == 201)
                let secretText = try #require(hook.json["secret"] as? String)
                let secret = try #require(Base64URL.decode(secretText))
                let hookID = try #require((hook.json["webhook"] as? [String: Any])?["id"] as? String)
                let created = try await PushTests.admin(http, .POST, base + "/enrollment-tokens", key: key, body: #"{"name":"flow"}"#)
                let token = try #require(created.json["secret"] as? String)
                let agent = AgentClient(httpClient: http, baseURL: replica.baseURL)
                let enrollment = try await agent.enroll(token: token, hostname: "FLOW-1")
                let device = agent.authenticated(with: enrollment)
                var stream = try await device.events(lastEventID: nil).makeAsyncIterator()
                _ = try await PushTests.next(&stream) { $0.type == "ready" }

                let answer = try await device.submitRequest(
                    ElevationRequest(
                        kind: .runAsAdmin, user: CheckinUser(upn: "ann@example.test"),
                        application: .init(fileName: "tool.exe"), reason: "month end"
                    )
                )
                #expect(answer.status == .pending)
                #expect(answer.expiresAt != nil)
                let requestID = answer.id

                let delivered = try await inbox.wait(for: "request.created")
                #expect(Self.verify(delivered, secret: secret))
                var forged = delivered
                forged.body.append(contentsOf: Array(" ".utf8))
                #expect(!Self.verify(forged, secret: secret))
                let payload = try JSONSerialization.jsonObject(with: delivered.body) as? [String: Any]
                #expect((payload?["request"] as? [String: Any])?["id"] as? String == requestID)

                let approved = try await PushTests.admin(http, .POST, base + "/requests/\(requestID)/approve", key: key, body: "{}")
                #expect(approved.status == 200)
                let decision = try await PushTests.next(&stream) { $0.type == "decision" }
                #expect(decision.data.contains(requestID))
                #expect(decision.data.contains("approved"))
                let read = try await device.readRequest(id: requestID)
                #expect(read.status == .approved)
                #expect(read.decidedAt != nil)
                _ = try await inbox.wait(for: "request.decided")

                // The replica records the retry's success after the receiver answered it: wait for the record.
                var first: [String: Any] = [:]
                for _ in 0..<300 {
                    let deliveries = try await PushTests.admin(http, .GET, base + "/webhooks/\(hookID)/deliveries", key: key)
                    let items = try #require(deliveries.json["items"] as? [[String: Any]])
                    first = try #require(items.first { $0["event"] as? String == "request.created" })
                    if first["status"] as? String == "delivered" { break }
                    try await Task.sleep(for: .milliseconds(100))
                }
                #expect(first["status"] as? String == "delivered")
                #expect(first["attempts"] as? Int == 2)
                #expect(first["last_status_code"] as? Int == 200)
                #expect(try await replica.terminate() == 0)
            } catch {
                try? await http.shutdown()
                throw error
            }
            try await http.shutdown()
        }
    }
}
