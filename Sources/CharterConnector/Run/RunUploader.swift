import AsyncHTTPClient
package import CharterAgent
package import CharterAgentWire
import CharterDirectory
import Foundation
package import Logging
import NIOCore
import NIOPosix

/// Reads one assigned run from the DCs and uploads it page by page (docs/connector-protocol.md, "Work", "Upload",
/// "Finish").
///
/// An `incremental` run continues the assignment's watermark when the DC that answers has the same
/// `invocationId` and still continues it, and reads everything otherwise. Each reader batch is one page, gzipped
/// once and uploaded while the next is read, and sent again byte for byte on a network error, a `5xx` or a `429`
/// (with backoff), so a replay is one the service answers `200` again. A run the service already holds pages of continues after them; the last held
/// page is sent again first as a check that the new read lines up with the old one.
package struct RunUploader: Sendable {
    package let session: ConnectorSession
    package let directory: SiteDirectory
    package let logger: Logger
    /// Retries of one call after a network error, a `5xx` or a `429` without `Retry-After`.
    package var backoff = Backoff(initial: .seconds(1), maximum: .seconds(30))

    package init(session: ConnectorSession, directory: SiteDirectory, logger: Logger) {
        self.session = session
        self.directory = directory
        self.logger = logger
    }

    /// How a run ended at this connector.
    package enum Outcome: Sendable, Hashable {
        /// Uploaded and completed; the service merges it.
        case completed(ConnectorRunCompletion)
        /// Reported as failed with this text.
        case failed(String)
        /// The service closed the run or gave it to another connector: nothing more to do.
        case closed
    }

    /// Why an upload stops before the read ends.
    package enum Stop: Error, CustomStringConvertible {
        /// `404` or `409` `run-closed`.
        case closed
        /// More objects than the run allows.
        case objectLimit(Int)
        /// The re-sent last held page differs: the directory changed since the interrupted upload.
        case directoryChanged(page: Int)
        /// The service refused a page or the completion.
        case refused(AgentError)

        package var description: String {
            switch self {
            case .closed: "the run was closed"
            case .objectLimit(let limit): "the directory has more than \(limit) objects, the run's limit"
            case .directoryChanged(let page):
                "the directory changed since the interrupted upload (page \(page) reads differently now); the next run reads it again"
            case .refused(let error): "the service refused the upload: \(error)"
            }
        }
    }

    /// Reads and uploads `run`, then completes it, or reports the failure with `fail`.
    ///
    /// - Throws: ``ConnectorError/updateRequired(detail:)``, `CancellationError`, or a transport error that
    ///   outlasted the retries up to the run's deadline (the service then fails the run at its deadline).
    package func perform(_ run: ConnectorRunAssignment) async throws -> Outcome {
        logger.info(
            "connector run started",
            metadata: ["run.id": "\(run.runID)", "run.kind": "\(run.kind.rawValue)", "run.pages_received": "\(run.pagesReceived)"]
        )
        do {
            let completion = try await read(run)
            try await retrying(until: run.deadlineAt) { token in
                try await session.client.complete(runID: run.runID, completion, token: token)
            }
            logger.info(
                "connector run uploaded",
                metadata: ["run.id": "\(run.runID)", "run.pages": "\(completion.pages)", "directory.objects": "\(completion.objectsRead)"]
            )
            return .completed(completion)
        } catch Stop.closed {
            logger.notice("connector run closed by the service", metadata: ["run.id": "\(run.runID)"])
            return .closed
        } catch let error as ConnectorError {
            throw error
        } catch let error as CancellationError {
            throw error
        } catch let error where Self.isTransient(error) {
            throw error
        } catch {
            let text = Self.failureText(error)
            logger.warning("connector run failed", metadata: ["run.id": "\(run.runID)", "error": "\(text)"])
            do {
                try await retrying(until: run.deadlineAt) { token in
                    try await session.client.fail(runID: run.runID, error: text, token: token)
                }
            } catch Stop.closed {
                return .closed
            }
            return .failed(text)
        }
    }

    /// Reads the run's objects and uploads them; returns the completion to send.
    ///
    /// A page is uploaded while the next one is read (one page in flight, in page order), so the read does not
    /// wait for the service to store each page.
    private func read(_ run: ConnectorRunAssignment) async throws -> ConnectorRunCompletion {
        let (handoffs, sink) = AsyncThrowingStream.makeStream(of: Handoff.self)
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await self.upload(handoffs, of: run) }
            do {
                let completion = try await read(run) { page, number in
                    try await withCheckedThrowingContinuation { taken in
                        if case .terminated = sink.yield(Handoff(page: page, number: number, taken: taken)) {
                            taken.resume(throwing: CancellationError())
                        }
                    }
                }
                sink.finish()
                try await group.waitForAll()
                return completion
            } catch {
                sink.finish()
                group.cancelAll()
                throw error
            }
        }
    }

    /// A page handed from the read to the upload; the read goes on once the upload has taken it.
    private struct Handoff: Sendable {
        var page: DirectoryPage
        var number: Int
        var taken: CheckedContinuation<Void, any Error>
    }

    /// Uploads the pages handed over, one at a time in order; after a failure, the read's next handoff fails
    /// with the same error.
    private func upload(_ handoffs: AsyncThrowingStream<Handoff, any Error>, of run: ConnectorRunAssignment) async throws {
        var pages = handoffs.makeAsyncIterator()
        do {
            while let handoff = try await pages.next() {
                handoff.taken.resume()
                let body = try handoff.page.gzipped()
                do {
                    try await upload(body, page: handoff.number, of: run)
                } catch Stop.refused(let error)
                    where handoff.number == run.pagesReceived && error.problem?.code == "page-conflict"
                {
                    throw Stop.directoryChanged(page: handoff.number)
                }
            }
        } catch {
            while let handoff = try? await pages.next() {
                handoff.taken.resume(throwing: error)
            }
            throw error
        }
    }

    /// Reads the run's objects, handing each page to `send` (which returns once the upload has taken it).
    private func read(
        _ run: ConnectorRunAssignment, send: @escaping (DirectoryPage, Int) async throws -> Void
    ) async throws -> ConnectorRunCompletion {
        let connection = try await directory.connect()
        defer { connection.close() }
        let options = DirectoryReader.Options(pageSize: min(run.pageSize, directory.configuration.directory.pageSize))
        let baseDN = directory.configuration.directory.baseDN
        var pages = 0
        let upload: (DirectoryReader.Batch) async throws -> Void = { batch in
            let read = batch.progress.objectsRead + batch.progress.tombstonesRead
            guard read <= run.maximumObjects else { throw Stop.objectLimit(run.maximumObjects) }
            pages += 1
            guard pages >= run.pagesReceived else { return }
            try await send(DirectoryPage(batch), pages)
        }
        if run.kind == .incremental, let watermark = run.watermark {
            let reader = DirectoryReader(connection: connection, baseDN: baseDN, options: options, logger: logger)
            let stored = DirectoryWatermark(
                serviceName: watermark.dcServiceName, invocationID: watermark.invocationID, usn: watermark.usn
            )
            if case .completed(let identity, let progress) = try await reader.readIncremental(since: stored, onBatch: upload) {
                return Self.completion(pages: pages, kind: .incremental, progress: progress, identity: identity)
            }
            pages = 0
        }
        // The read splits in two halves over two connections, whose pages the reader takes in turn: a resumed read
        // of the same directory makes the same pages as the interrupted one.
        let second = try? await directory.connect()
        defer { second?.close() }
        let reader = DirectoryReader(
            connection: connection, secondConnection: second, baseDN: baseDN, options: options, logger: logger
        )
        var progress = DirectoryReader.Progress()
        let identity = try await reader.readFull { batch in
            progress = batch.progress
            try await upload(batch)
        }
        return Self.completion(pages: pages, kind: .full, progress: progress, identity: identity)
    }

    static func completion(
        pages: Int, kind: ConnectorRunAssignment.Kind, progress: DirectoryReader.Progress, identity: DomainControllerIdentity
    ) -> ConnectorRunCompletion {
        ConnectorRunCompletion(
            pages: pages, kind: kind, objectsRead: progress.objectsRead, tombstonesRead: progress.tombstonesRead,
            domainController: ConnectorDomainController(
                serviceName: identity.serviceName, invocationID: identity.invocationID,
                highestCommittedUSN: identity.highestCommittedUSN, defaultNamingContext: identity.defaultNamingContext,
                dnsHostName: identity.dnsHostName, domainSID: identity.domainSID?.description
            )
        )
    }

    /// Sends one page, the same bytes on every attempt.
    private func upload(_ body: ByteBuffer, page: Int, of run: ConnectorRunAssignment) async throws {
        let receipt = try await retrying(until: run.deadlineAt) { token in
            try await session.client.putPage(runID: run.runID, page: page, gzipped: body, token: token)
        }
        logger.debug(
            "connector page uploaded",
            metadata: ["run.id": "\(run.runID)", "page": "\(page)", "page.bytes": "\(body.readableBytes)", "run.pages_received": "\(receipt.pagesReceived)"]
        )
    }

    /// Runs a call until it succeeds, retrying network errors, `5xx` and `429` with backoff until `deadline`.
    ///
    /// - Throws: ``Stop/closed`` for `404` and `409` `run-closed`, ``Stop/refused(_:)`` for another refusal,
    ///   the last transient error once the deadline passed.
    func retrying<Result>(until deadline: Date, _ call: (String) async throws -> Result) async throws -> Result {
        var attempt = 0
        while true {
            do {
                return try await session.call(call)
            } catch let error as AgentError {
                if error.statusCode == 404 || (error.statusCode == 409 && error.problem?.code == "run-closed") {
                    throw Stop.closed
                }
                guard Self.isTransient(error), Date() < deadline else { throw Stop.refused(error) }
                try await Task.sleep(for: Self.retryDelay(error, backoff: backoff, attempt: attempt))
            } catch let error where Self.isTransient(error) {
                guard Date() < deadline else { throw error }
                logger.info("connector call failed; retrying", metadata: ["error": "\(error)", "attempt": "\(attempt + 1)"])
                try await Task.sleep(for: backoff.delay(attempt: attempt))
            }
            attempt += 1
        }
    }

    /// Whether the same request may succeed later: a transport error, a `5xx` or a `429`.
    package static func isTransient(_ error: any Error) -> Bool {
        switch error {
        case let error as AgentError:
            guard let status = error.statusCode else { return false }
            return status == 429 || (500...599).contains(status)
        case is ConnectorError, is CancellationError, is Stop, is ConnectorConfigurationError:
            return false
        default:
            // The request got no answer: connect, TLS, timeout or a connection closed midway.
            return error is HTTPClientError || error is ChannelError || error is IOError || error is NIOConnectionError
        }
    }

    static func retryDelay(_ error: AgentError, backoff: Backoff, attempt: Int) -> Duration {
        if case .status(_, _, let retryAfter?) = error { return min(retryAfter, .seconds(300)) }
        return backoff.delay(attempt: attempt)
    }

    /// The run's `error` text: what went wrong, never a password (LDAP errors carry the server's diagnostic).
    static func failureText(_ error: any Error) -> String {
        let text = "\(error)"
        return text.isEmpty ? "connector read failed" : String(text.prefix(1000))
    }
}
