package import AsyncHTTPClient
import CharterAgent
import CharterCore
import CharterDirectory
import Foundation
package import Logging

/// `charter connector check`: each DC (connect and bind), the directory (identity, and what a full read would
/// read), the service (reachable over TLS, and the identity and token when enrolled), one line per check.
package struct ConnectorCheck: Sendable {
    /// One check's outcome.
    package struct Line: Sendable, Hashable, CustomStringConvertible {
        package var passed: Bool
        /// What was checked: `dc ldaps://dc1…`, `directory`, `full read`, `service`, `identity`.
        package var subject: String
        package var detail: String

        package var description: String {
            "\(passed ? "ok  " : "FAIL") \(subject): \(detail)"
        }
    }

    package let configuration: ConnectorConfiguration
    package let httpClient: HTTPClient
    package let logger: Logger

    package init(configuration: ConnectorConfiguration, httpClient: HTTPClient, logger: Logger) {
        self.configuration = configuration
        self.httpClient = httpClient
        self.logger = logger
    }

    /// Runs every check, handing each line to `report` as it is known.
    ///
    /// - Returns: Every line; the check passed when all of them did.
    @discardableResult
    package func run(report: (Line) -> Void = { _ in }) async -> [Line] {
        var lines: [Line] = []
        func add(_ line: Line) {
            lines.append(line)
            report(line)
        }
        for line in await checkDirectory() { add(line) }
        for line in await checkService() { add(line) }
        return lines
    }

    /// One line per DC, then the directory's identity and what a full read would read.
    package func checkDirectory() async -> [Line] {
        let directory = SiteDirectory(configuration: configuration, logger: logger)
        let password: String
        do {
            password = try configuration.readPassword()
        } catch {
            return [Line(passed: false, subject: "directory.password_file", detail: "\(error)")]
        }
        var lines: [Line] = []
        for url in configuration.directory.urls {
            if let error = await directory.probe(url, password: password) {
                lines.append(Line(passed: false, subject: "dc \(url)", detail: "\(error)"))
            } else {
                lines.append(Line(passed: true, subject: "dc \(url)", detail: "connected and bound as \(configuration.directory.bindDN)"))
            }
        }
        guard lines.contains(where: \.passed) else {
            lines.append(Line(passed: false, subject: "directory", detail: "no domain controller answers; nothing to read"))
            return lines
        }
        do {
            let connection = try await directory.connect()
            defer { connection.close() }
            let second = try? await directory.connect()
            defer { second?.close() }
            let reader = DirectoryReader(
                connection: connection, secondConnection: second, baseDN: configuration.directory.baseDN,
                options: .init(pageSize: configuration.directory.pageSize), logger: logger
            )
            var kinds: [DirectoryObjectKind: Int] = [:]
            var pages = 0
            let identity = try await reader.readFull { batch in
                pages += 1
                for object in batch.objects { kinds[object.kind, default: 0] += 1 }
            }
            lines.append(
                Line(
                    passed: true, subject: "directory",
                    detail: "\(identity.serviceName) at \(connection.url), invocationId \(identity.invocationID), "
                        + "highestCommittedUSN \(identity.highestCommittedUSN), domain SID \(identity.domainSID?.description ?? "unknown")"
                )
            )
            let total = kinds.values.reduce(0, +)
            let byKind = DirectoryObjectKind.allCases.map { "\($0.rawValue) \(kinds[$0, default: 0])" }.joined(separator: ", ")
            lines.append(
                Line(
                    passed: true, subject: "full read",
                    detail: "\(total) objects under \(configuration.directory.baseDN) (\(byKind)) in \(pages) pages of at most \(configuration.directory.pageSize)"
                )
            )
        } catch {
            lines.append(Line(passed: false, subject: "directory", detail: "\(error)"))
        }
        return lines
    }

    /// The service: reachable (a challenge, which needs no identity), then the stored identity and token.
    package func checkService() async -> [Line] {
        let client = ConnectorClient(httpClient: httpClient, baseURL: configuration.serviceURL, requestTimeout: .seconds(15), logger: logger)
        do {
            _ = try await client.challenge()
        } catch {
            return [Line(passed: false, subject: "service", detail: "\(configuration.serviceURL) does not answer: \(error)")]
        }
        var lines = [Line(passed: true, subject: "service", detail: "\(configuration.serviceURL) answers")]
        let state: ConnectorState?
        do {
            state = try ConnectorState.load(from: configuration.stateDirectory)
        } catch {
            lines.append(Line(passed: false, subject: "identity", detail: "\(error)"))
            return lines
        }
        guard let state else {
            let detail = configuration.enrollmentToken == nil
                ? "not enrolled, and no enrollment_token to enroll with"
                : "not enrolled yet; `charter connector run` enrolls with the configured enrollment token"
            lines.append(Line(passed: configuration.enrollmentToken != nil, subject: "identity", detail: detail))
            return lines
        }
        let session = ConnectorSession(client: client, state: state, stateDirectory: configuration.stateDirectory, logger: logger)
        do {
            let work = try await session.call { token in try await client.work(token: token) }
            let current = await session.state
            lines.append(
                Line(
                    passed: true, subject: "identity",
                    detail: "connector \(current.connectorID) of tenant \(current.tenantID), token valid until "
                        + "\(current.tokenExpiresAt.formatted(.iso8601)), \(work.runs.count) runs waiting"
                )
            )
        } catch {
            lines.append(Line(passed: false, subject: "identity", detail: "connector \(state.connectorID) is refused: \(error)"))
        }
        return lines
    }
}
