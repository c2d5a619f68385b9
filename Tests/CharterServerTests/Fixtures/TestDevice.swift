import CharterBundle
import Crypto
import Foundation
import HTTPTypes
import NIOCore
import HummingbirdTesting
import Testing

/// An endpoint as the tests play it: its two key pairs, and once enrolled its id, token and verifier.
struct TestDevice: Sendable {
    let encryptionKey = Curve25519.KeyAgreement.PrivateKey()
    let signingKey = Curve25519.Signing.PrivateKey()
    var id = ""
    var token = ""
    var pinnedKeys: [BundleSigningKey] = []
    var tenant = ""
    var issuer = ""

    func enrollBody(token enrollmentToken: String, hostname: String, extra: String = "") -> String {
        let enc = String(decoding: JWK(encryptionKey.publicKey).jsonData, as: UTF8.self)
        let sig = String(decoding: JWK(signingKey.publicKey).jsonData, as: UTF8.self)
        return """
            {"enrollment_token":"\(enrollmentToken)","hostname":"\(hostname)","agent_version":"1.0.0",\(extra)
             "encryption_key":\(enc),"signing_key":\(sig)}
            """
    }

    /// Enrolls; the answer must be `status`.
    mutating func enroll(
        _ client: some TestClientProtocol, token enrollmentToken: String, hostname: String, extra: String = "",
        status: Int = 201, sourceLocation: SourceLocation = #_sourceLocation
    ) async throws {
        let answer = try await client.call(
            .post, "/v1/agent/enroll", body: enrollBody(token: enrollmentToken, hostname: hostname, extra: extra)
        )
        try #require(answer.status.code == status, "enroll answered \(answer.status.code): \(answer.json)", sourceLocation: sourceLocation)
        id = try #require(answer.json["device_id"] as? String)
        token = try #require(answer.json["device_token"] as? String)
        tenant = try #require(answer.json["tenant_id"] as? String)
        issuer = try #require(answer.json["issuer"] as? String)
        let keys = try #require((answer.json["signing_keys"] as? [String: any Sendable])?["keys"] as? [any Sendable])
        let data = try JSONSerialization.data(withJSONObject: keys.map { $0 as Any })
        pinnedKeys = try JSONDecoder().decode([BundleSigningKey].self, from: data)
    }

    func verifier(held: Int64? = nil, keys: [BundleSigningKey]? = nil) -> BundleVerifier {
        BundleVerifier(
            deviceID: id, deviceKey: encryptionKey, trustedKeys: keys ?? pinnedKeys, heldVersion: held, issuer: issuer,
            tenant: tenant
        )
    }

    /// `GET /v1/agent/bundle`: the status, ETag and compact body.
    func fetch(_ client: some TestClientProtocol, ifNoneMatch etag: String? = nil) async throws -> (status: Int, etag: String?, body: String) {
        var headers: HTTPFields = [.authorization: "Bearer \(token)"]
        if let etag { headers[.ifNoneMatch] = etag }
        return try await client.execute(uri: "/v1/agent/bundle", method: .get, headers: headers, body: nil) { response in
            (Int(response.status.code), response.headers[.eTag], String(buffer: response.body))
        }
    }
}
