import CharterStore
import Testing

@Suite("Database URL TLS defaults")
struct DatabaseURLTests {
    @Test(
        "without sslmode a loopback host prefers TLS and any other host requires verified TLS; an explicit mode wins",
        arguments: [
            (nil, "127.0.0.1", DatabaseURL.TLSMode.prefer),
            (nil, "127.8.9.10", .prefer),
            (nil, "localhost", .prefer),
            (nil, "LocalHost", .prefer),
            (nil, "db.localhost", .prefer),
            (nil, "::1", .prefer),
            (nil, "[::1]", .prefer),
            (nil, "0:0:0:0:0:0:0:1", .prefer),
            (nil, "::ffff:127.0.0.1", .prefer),
            (nil, "db.example.com", .verifyFull),
            (nil, "postgres", .verifyFull),
            (nil, "10.0.0.5", .verifyFull),
            (nil, "128.0.0.1", .verifyFull),
            (nil, "127.0.0.1.example.com", .verifyFull),
            (nil, "localhost.example.com", .verifyFull),
            (nil, "::2", .verifyFull),
            (nil, "fe80::1", .verifyFull),
            (nil, "::ffff:10.0.0.1", .verifyFull),
            ("disable", "db.example.com", .disable),
            ("prefer", "db.example.com", .prefer),
            ("allow", "db.example.com", .prefer),
            ("require", "db.example.com", .verifyFull),
            ("verify-ca", "db.example.com", .verifyFull),
            ("verify-full", "127.0.0.1", .verifyFull),
            ("disable", "127.0.0.1", .disable),
        ] as [(String?, String, DatabaseURL.TLSMode)]
    )
    func tlsMode(sslmode: String?, host: String, expected: DatabaseURL.TLSMode) throws {
        #expect(try DatabaseURL.tlsMode(sslmode: sslmode, host: host) == expected)
    }

    @Test("an unknown sslmode is refused, naming the accepted ones")
    func unknownMode() {
        #expect(throws: DatabaseURL.Invalid.self) { try DatabaseURL.tlsMode(sslmode: "on", host: "db") }
        #expect(throws: DatabaseURL.Invalid.self) {
            try DatabaseURL.configuration(from: "postgres://u@db.example.com/charter?sslmode=strict")
        }
    }

    @Test("URLs with and without sslmode parse for remote and loopback hosts")
    func parses() throws {
        for url in [
            "postgres://u:p@db.example.com/charter", "postgres://u:p@db.example.com:6432/charter?sslmode=disable",
            "postgres://u@127.0.0.1:55432/charter", "postgresql://u@[::1]/charter",
        ] {
            _ = try DatabaseURL.configuration(from: url)
        }
    }
}
