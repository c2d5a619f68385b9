import CharterStore
import Foundation
import Hummingbird
import Prometheus

/// The unauthenticated routes for operators and tooling: liveness, readiness, metrics, the API document and
/// the problem-type pages.
struct OperationsRoutes: Sendable {
    let database: Database
    let metrics: PrometheusCollectorRegistry
    let drain: DrainState

    func register(on router: Router<AppRequestContext>) {
        // Liveness never touches the database: a database outage must not restart every replica.
        router.get("/healthz") { _, _ in
            Response(status: .ok, headers: [.contentType: "text/plain"], body: .init(byteBuffer: ByteBuffer(string: "ok\n")))
        }
        router.get("/readyz") { _, context in
            if drain.isDraining {
                return Response(
                    status: .serviceUnavailable, headers: [.contentType: "text/plain"],
                    body: .init(byteBuffer: ByteBuffer(string: "draining\n"))
                )
            }
            let status = await SchemaCheck(database: database).status(logger: context.logger)
            return Response(
                status: status.isReady ? .ok : .serviceUnavailable,
                headers: [.contentType: "text/plain"],
                body: .init(byteBuffer: ByteBuffer(string: status.description + "\n"))
            )
        }
        router.get("/metrics") { _, _ in
            var buffer: [UInt8] = []
            metrics.emit(into: &buffer)
            return Response(
                status: .ok,
                headers: [.contentType: "text/plain; version=0.0.4"],
                body: .init(byteBuffer: ByteBuffer(bytes: buffer))
            )
        }
        router.get("/openapi.yaml") { _, _ in
            guard let url = Bundle.module.url(forResource: "openapi", withExtension: "yaml"),
                let data = try? Data(contentsOf: url)
            else {
                throw Problem(.internalError, "The API document is missing from this build.")
            }
            return Response(
                status: .ok,
                headers: [.contentType: "application/yaml"],
                body: .init(byteBuffer: ByteBuffer(bytes: data))
            )
        }
        router.get("/docs/problems/{page}") { _, context in
            let page = try context.parameters.require("page")
            guard page.hasSuffix(".md"), let kind = Problem.Kind(rawValue: String(page.dropLast(3))),
                let url = Bundle.module.url(forResource: kind.rawValue, withExtension: "md", subdirectory: "Problems"),
                let data = try? Data(contentsOf: url)
            else {
                throw Problem(.notFound, "No such problem type.")
            }
            return Response(
                status: .ok,
                headers: [.contentType: "text/markdown; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(bytes: data))
            )
        }
    }
}
