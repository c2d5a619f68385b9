import CharterAgentWire
import CharterCore
import CharterServices
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// The data routes of the connector protocol under `/v1/connector` (docs/connector-protocol.md, "Work",
/// "Upload", "Finish"), written by hand as the agent routes are: the runs that wait for a connector, its pages
/// and how it finishes a run.
///
/// Each route authenticates first (before its body is read), then makes one call of ``ConnectorSyncService``.
struct ConnectorRunRoutes: Sendable {
    /// The connector a request's token names (the connector authentication: protocol header, `chtk_` token,
    /// rate limits).
    let authenticate: @Sendable (Request, AppRequestContext) async throws -> AuthenticatedConnector
    let service: ConnectorSyncService
    /// The body of `complete` and `fail` (`http.max_body_bytes`); a page may have up to
    /// ``ConnectorPageCodec/maximumSentBytes``.
    let maximumBodyBytes: Int

    /// Registers the routes; `router` must not limit bodies below ``ConnectorPageCodec/maximumSentBytes``.
    func register(on router: some RouterMethods<AppRequestContext>) {
        let group = router.group("v1/connector")
        group.get("work") { request, context in try await work(request, context: context) }
        group.put("runs/{run}/pages/{page}") { request, context in try await uploadPage(request, context: context) }
        group.post("runs/{run}/complete") { request, context in try await complete(request, context: context) }
        group.post("runs/{run}/fail") { request, context in try await fail(request, context: context) }
        group.get("runs/{run}") { request, context in try await status(request, context: context) }
    }

    /// `GET /v1/connector/work`: the runs assigned to this connector that wait for its upload.
    private func work(_ request: Request, context: AppRequestContext) async throws -> Response {
        let connector = try await authenticate(request, context)
        return try AgentJSON.response(try await service.work(for: connector, logger: context.logger))
    }

    /// `PUT /v1/connector/runs/{run}/pages/{page}`: one page, gzip or identity, idempotent by its content.
    private func uploadPage(_ request: Request, context: AppRequestContext) async throws -> Response {
        let connector = try await authenticate(request, context)
        let run = try Self.runID(context)
        guard let page = context.parameters.get("page").flatMap(Int.init) else {
            throw Problem(.malformedRequest, "The page number must be an integer from 1.", field: "page")
        }
        let isGzip = try Self.isGzip(request.headers[.contentEncoding])
        let body: ByteBuffer
        do {
            body = try await request.body.collect(upTo: ConnectorPageCodec.maximumSentBytes)
        } catch {
            throw Problem(.payloadTooLarge, "A page may have at most \(ConnectorPageCodec.maximumSentBytes) bytes as sent.")
        }
        let receipt = try await service.uploadPage(
            page, of: run, body: body, isGzip: isGzip, by: connector, logger: context.logger
        )
        return try AgentJSON.response(receipt)
    }

    /// `POST /v1/connector/runs/{run}/complete`: every page is uploaded; the service merges the run.
    private func complete(_ request: Request, context: AppRequestContext) async throws -> Response {
        let connector = try await authenticate(request, context)
        let run = try Self.runID(context)
        let body = try await AgentJSON.decode(ConnectorRunCompletion.self, from: request, maximumBytes: maximumBodyBytes)
        let status = try await service.complete(run, with: body, by: connector, logger: context.logger)
        return try AgentJSON.response(status, status: .accepted)
    }

    /// `POST /v1/connector/runs/{run}/fail`: the connector could not read the run.
    private func fail(_ request: Request, context: AppRequestContext) async throws -> Response {
        let connector = try await authenticate(request, context)
        let run = try Self.runID(context)
        let body = try await AgentJSON.decode(ConnectorRunFailure.self, from: request, maximumBytes: maximumBodyBytes)
        let status = try await service.fail(run, with: body, by: connector, logger: context.logger)
        return try AgentJSON.response(status, status: .accepted)
    }

    /// `GET /v1/connector/runs/{run}`: where the run stands and how many pages the service holds.
    private func status(_ request: Request, context: AppRequestContext) async throws -> Response {
        let connector = try await authenticate(request, context)
        let run = try Self.runID(context)
        let status = try await service.status(of: run, for: connector, logger: context.logger)
        return try AgentJSON.response(status)
    }

    // MARK: - Shared steps

    private static func runID(_ context: AppRequestContext) throws -> SyncRunID {
        guard let id = context.parameters.get("run").flatMap(SyncRunID.init) else {
            throw Problem(.malformedRequest, "The run id must be a UUID.", field: "run")
        }
        return id
    }

    /// Whether a page's `Content-Encoding` is gzip (RFC 9110 §8.4.1): `gzip` (or `x-gzip`), or `identity` or none.
    static func isGzip(_ header: String?) throws -> Bool {
        switch header?.trimmingCharacters(in: .whitespaces).lowercased() {
        case nil, "", "identity": return false
        case "gzip", "x-gzip": return true
        case let other?:
            throw Problem(
                .unsupportedMediaType, "Content-Encoding must be gzip or identity, not \(other).",
                field: "Content-Encoding"
            )
        }
    }
}
