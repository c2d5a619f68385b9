import CharterCore
import CharterStore
import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore

/// Makes a `POST` that carries `Idempotency-Key` safe to retry: the first answer is kept, and a retry by the
/// same credential with the same key and the same request gets it back without running again
/// (docs/api.md, "Retries and Idempotency-Key").
///
/// - A key is 1–255 visible ASCII characters; anything else is 400 (`field` `Idempotency-Key`).
/// - The same key with another method, path (query included) or body is 422; a retry while the first
///   request still runs is 409.
/// - Successful answers (below 400) are kept for ``retention``; a failure, thrown or answered (4xx, 5xx), frees
///   the key (nothing was written: the handler's transaction rolled back), so a retry runs again.
/// - Keys belong to a credential, found by `owner` after authentication, and are stored under row-level
///   security in its tenant (or its MSP for an MSP-wide principal).
/// - Answers can carry secrets shown once (a new API key, an enrollment token). The stored body is sealed
///   (AES-GCM) under a key derived from the request's `Authorization` value and the idempotency key, neither
///   of which the database holds, so the table reveals no secret; a retry presenting another credential
///   value cannot open it and is answered 422.
/// - The crash window: a process that stops after the operation committed and before the answer was stored
///   leaves the key held for ``lease``: retries answer 409 until then, and run again after it.
struct IdempotencyMiddleware: RouterMiddleware {
    typealias Context = AppRequestContext

    /// How long answers are kept for retries.
    static let retention: TimeInterval = 24 * 60 * 60
    /// How long a running request holds its key before a retry may take it over.
    static let lease: TimeInterval = 5 * 60
    /// The header, as draft-ietf-httpapi-idempotency-key-header names it (a valid field name, so the `!` holds).
    static let header = HTTPField.Name("Idempotency-Key")!

    let database: Database
    /// The credential of an authenticated request, `nil` when there is none (the handler answers 401).
    let owner: @Sendable (Request, AppRequestContext) async throws -> IdempotencyOwner?
    let now: @Sendable () -> Date

    func handle(
        _ request: Request,
        context: AppRequestContext,
        next: @concurrent (Request, AppRequestContext) async throws -> Response
    ) async throws -> Response {
        guard request.method == .post, let raw = request.headers[Self.header] else {
            return try await next(request, context)
        }
        guard let owner = try await owner(request, context), let authorization = request.headers[.authorization] else {
            return try await next(request, context)
        }
        let key = try Self.validated(raw)
        let sealingKey = Self.sealingKey(authorization: authorization, key: key)
        var request = request
        // BodyLimitMiddleware, outside, has already refused bodies above the limit and buffered the rest.
        let body = try await request.collectBody(upTo: .max)
        let fingerprint = Self.fingerprint(method: request.method, uri: request.uri.description, body: body)
        let started = now()
        let claim = try await database.withIdempotencyOwner(owner, logger: context.logger) { tx in
            try await tx.idempotencyKeys.claim(
                owner, key: key, fingerprint: fingerprint, now: started,
                lockedUntil: started.addingTimeInterval(Self.lease), expiresAt: started.addingTimeInterval(Self.retention)
            )
        }
        switch claim {
        case .replay(let answer):
            guard let opened = try? Self.opened(answer, with: sealingKey) else {
                throw Problem(
                    .validationFailed, "This Idempotency-Key was used with another credential; use a new key.",
                    field: "Idempotency-Key"
                )
            }
            return Self.response(opened)
        case .running:
            throw Problem(
                .conflict, "A request with this Idempotency-Key is still running; retry once it has answered.",
                field: "Idempotency-Key"
            )
        case .mismatch:
            throw Problem(
                .validationFailed,
                "This Idempotency-Key was used for a different request (method, path or body); use a new key.",
                field: "Idempotency-Key"
            )
        case .claimed:
            break
        }
        let response: Response
        do {
            response = try await next(request, context)
        } catch {
            try await release(owner, key: key, context: context)
            throw error
        }
        guard response.status.code < 400 else {
            try await release(owner, key: key, context: context)
            return response
        }
        let collector = BodyCollector()
        var kept = response
        try await response.body.write(collector)
        let answer = StoredAnswer(
            status: response.status.code, contentType: response.headers[.contentType],
            location: response.headers[.location], etag: response.headers[.eTag],
            body: Array(try AES.GCM.seal(Array(buffer: collector.buffer), using: sealingKey).combined ?? Data())
        )
        try await database.withIdempotencyOwner(owner, logger: context.logger) { tx in
            try await tx.idempotencyKeys.complete(owner, key: key, with: answer)
        }
        kept.body = .init(byteBuffer: collector.buffer)
        return kept
    }

    private func release(_ owner: IdempotencyOwner, key: String, context: AppRequestContext) async throws {
        try await database.withIdempotencyOwner(owner, logger: context.logger) { tx in
            try await tx.idempotencyKeys.release(owner, key: key)
        }
    }

    /// The key, if it is 1–255 visible ASCII characters (RFC 9110 `tchar`s and the rest of VCHAR).
    static func validated(_ raw: String) throws -> String {
        guard (1...255).contains(raw.utf8.count), raw.utf8.allSatisfy({ (0x21...0x7E).contains($0) }) else {
            throw Problem(
                .malformedRequest, "Idempotency-Key must be 1 to 255 visible ASCII characters.", field: "Idempotency-Key"
            )
        }
        return raw
    }

    /// The key that seals a stored answer: HKDF-SHA256 of the `Authorization` value, bound to the idempotency key.
    static func sealingKey(authorization: String, key: String) -> SymmetricKey {
        HKDF<SHA256>.deriveKey(
            inputKeyMaterial: SymmetricKey(data: Data(authorization.utf8)),
            salt: Data("charter idempotency answer v1".utf8),
            info: Data(key.utf8),
            outputByteCount: 32
        )
    }

    /// The answer with its body opened.
    ///
    /// - Throws: `CryptoKitError` when the body was sealed under another key or altered.
    static func opened(_ answer: StoredAnswer, with key: SymmetricKey) throws -> StoredAnswer {
        var opened = answer
        opened.body = Array(try AES.GCM.open(AES.GCM.SealedBox(combined: answer.body), using: key))
        return opened
    }

    /// SHA-256 over the method, the target (path and query) and the body, each length-prefixed.
    static func fingerprint(method: HTTPRequest.Method, uri: String, body: ByteBuffer) -> [UInt8] {
        var hash = SHA256()
        for part in [Array(method.rawValue.utf8), Array(uri.utf8), Array(buffer: body)] {
            withUnsafeBytes(of: UInt64(part.count).bigEndian) { hash.update(bufferPointer: $0) }
            hash.update(data: part)
        }
        return Array(hash.finalize())
    }

    /// The middleware of the admin API: keys belong to the API key's principal, in its tenant or MSP.
    static func apiKeys(database: Database) -> IdempotencyMiddleware {
        IdempotencyMiddleware(
            database: database,
            owner: { _, context in
                context.identity.map { principal in
                    IdempotencyOwner(
                        msp: principal.mspID, tenant: principal.soleTenant, credential: principal.id.rawValue
                    )
                }
            },
            now: { Date() }
        )
    }

    static func response(_ answer: StoredAnswer) -> Response {
        var headers: HTTPFields = [:]
        if let contentType = answer.contentType { headers[.contentType] = contentType }
        if let location = answer.location { headers[.location] = location }
        if let etag = answer.etag { headers[.eTag] = etag }
        return Response(
            status: .init(code: answer.status), headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: answer.body))
        )
    }
}

/// Gathers a response body in memory; the answers kept for idempotency keys are small JSON documents.
private final class BodyCollector: ResponseBodyWriter {
    var buffer = ByteBuffer()

    func write(_ buffer: ByteBuffer) async throws {
        var buffer = buffer
        self.buffer.writeBuffer(&buffer)
    }

    func finish(_ trailingHeaders: HTTPFields?) async throws {}
}
