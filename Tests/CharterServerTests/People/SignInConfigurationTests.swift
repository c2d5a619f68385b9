import CharterServer
import Foundation
import Testing

@Suite("Sign-in configuration")
struct SignInConfigurationTests {
    static let database = ["CHARTER_DATABASE_URL": "postgres://charter@localhost/charter"]

    @Test("http.public_url is optional, kept without a trailing slash; identity.allow_insecure_http is off by default")
    func keys() async throws {
        let defaults = try await ConfigurationTests.load(Self.database)
        #expect(defaults.publicURL == nil && defaults.identityAllowsInsecureHTTP == false)
        let set = try await ConfigurationTests.load(
            Self.database.merging([
                "CHARTER_HTTP_PUBLIC_URL": "https://charter.example/", "CHARTER_IDENTITY_ALLOW_INSECURE_HTTP": "true",
            ]) { $1 }
        )
        #expect(set.publicURL == "https://charter.example" && set.identityAllowsInsecureHTTP)
    }

    @Test(
        "a bad value stops start-up naming its key",
        arguments: [
            ("CHARTER_HTTP_PUBLIC_URL", "charter.example", "CHARTER_HTTP_PUBLIC_URL"),
            ("CHARTER_HTTP_PUBLIC_URL", "https://charter.example/?x=1", "CHARTER_HTTP_PUBLIC_URL"),
            ("CHARTER_HTTP_PUBLIC_URL", "ftp://charter.example", "CHARTER_HTTP_PUBLIC_URL"),
            ("CHARTER_IDENTITY_ALLOW_INSECURE_HTTP", "maybe", "CHARTER_IDENTITY_ALLOW_INSECURE_HTTP"),
        ]
    )
    func badValue(_ variable: String, _ value: String, _ named: String) async throws {
        do {
            _ = try await ConfigurationTests.load(Self.database.merging([variable: value]) { $1 })
            Issue.record("\(variable)=\(value) was accepted")
        } catch let error as ConfigurationError {
            #expect(error.description.contains(named))
        }
    }
}
