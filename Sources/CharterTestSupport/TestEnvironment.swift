package import CharterCore
package import Foundation

/// The environment the tests run in: scripts/test (or /tmp/charter-dev/env-*) exports the URLs of the real
/// PostgreSQL and Samba DC, and `CHARTER_PYTHON`.
package enum TestEnvironment {
    /// The value of `name`; a test run without it stops with a hint, since no test can pass without its service.
    package static func required(_ name: String) -> String {
        guard let value = ProcessInfo.processInfo.environment[name] else {
            fatalError("\(name) is not set: run the tests through scripts/test, which starts PostgreSQL")
        }
        return value
    }

    /// The value of `name`, or `nil`.
    package static func optional(_ name: String) -> String? {
        ProcessInfo.processInfo.environment[name]
    }

    /// The interpreter the Python fixtures run with: `CHARTER_PYTHON`, a venv scripts/test prepares.
    package static var python: String? { optional("CHARTER_PYTHON") }

    /// The repository's root, found from this file through symlinks (a scratch package may link the folder).
    package static var repositoryRoot: URL {
        URL(fileURLWithPath: #filePath).resolvingSymlinksInPath()
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }
}

/// Loopback, where the tests' Samba DC (127.0.0.2) and webhook receivers (127.0.0.1) run: the outbound policy
/// refuses it unless allowed, as here.
package enum TestLoopback {
    package static let networks: [IPNetwork] = ["127.0.0.0/8", "::1/128"].compactMap { IPNetwork($0) }

    /// The outbound policy of the tests: the default one with loopback allowed.
    package static let destinations = DestinationPolicy(allowedNetworks: networks)
}
