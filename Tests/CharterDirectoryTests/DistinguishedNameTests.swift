import CharterDirectory
import Testing

@Suite("Distinguished names (RFC 4514)")
struct DistinguishedNameTests {
    @Test(
        "parsing undoes escapes, quotes and hex pairs",
        arguments: [
            (#"CN=Smith\, John,OU=Sales,DC=example,DC=com"#, "Smith, John"),
            (#"CN=\"Quoted\" Name,DC=example"#, #""Quoted" Name"#),
            (#"CN=Back\\slash,DC=example"#, #"Back\slash"#),
            (#"CN=Caf\C3\A9,DC=example"#, "Café"),
            ("CN=Café Zoë,DC=example", "Café Zoë"),
            (#"CN="Smith, John",DC=example"#, "Smith, John"),
            (##"CN=\#hash\ ,DC=example"##, "#hash "),
            (#"CN=a\2Cb,DC=example"#, "a,b"),
            ("cn = spaced , dc=example", "spaced"),
            (#"CN=semi\;colon\<\>\=,DC=example"#, "semi;colon<>="),
        ]
    )
    func unescapes(dn: String, firstValue: String) throws {
        let parsed = try DistinguishedName(dn)
        #expect(parsed.rdns.first?.attributes.first?.value == firstValue)
        #expect(parsed.rdns.last?.attributes.first?.type.lowercased() == "dc")
    }

    @Test("a multi-valued RDN keeps its attributes and compares in any order")
    func multiValued() throws {
        let dn = try DistinguishedName(#"CN=Alice+UID=a\+b,OU=People,DC=example"#)
        #expect(dn.rdns[0].attributes == [.init(type: "CN", value: "Alice"), .init(type: "UID", value: "a+b")])
        #expect(dn == (try DistinguishedName(#"uid=A\+B+cn=alice,ou=people,dc=EXAMPLE"#)))
    }

    @Test(
        "DNs that differ only in case, spacing or escaping are equal",
        arguments: [
            ("CN=Zoë Smith,OU=Sales,DC=example,DC=com", #"cn=ZOË SMITH, ou=sales,dc=Example,dc=COM"#),
            (#"CN=Smith\, John,DC=example"#, #"cn=smith\2c john,dc=example"#),
            (#"CN=Smith\, John,DC=example"#, #"CN="Smith, John",DC=example"#),
            ("CN=Caf\\C3\\A9,DC=x", "CN=café,DC=x"),
        ]
    )
    func equality(lhs: String, rhs: String) throws {
        #expect(try DistinguishedName(lhs) == DistinguishedName(rhs))
        #expect(try DistinguishedName(lhs).hashValue == DistinguishedName(rhs).hashValue)
    }

    @Test("DNs with different values are different")
    func inequality() throws {
        #expect(try DistinguishedName("CN=a,DC=x") != DistinguishedName("CN=b,DC=x"))
        #expect(try DistinguishedName(#"CN=a\,b,DC=x"#) != DistinguishedName("CN=a,CN=b,DC=x"))
    }

    @Test("parent and containment follow the RDN sequence")
    func parentAndContainment() throws {
        let dn = try DistinguishedName(#"CN=Smith\, John,OU=Sales,DC=example,DC=com"#)
        #expect(dn.parent?.description == "OU=Sales,DC=example,DC=com")
        #expect(dn.isWithin(try DistinguishedName("ou=SALES,dc=example,dc=com")))
        #expect(!dn.isWithin(try DistinguishedName("OU=Marketing,DC=example,DC=com")))
        #expect(try DistinguishedName("").rdns.isEmpty)
    }

    @Test("description escapes what RFC 4514 requires and round-trips")
    func roundTrip() throws {
        let dn = DistinguishedName(rdns: [
            .init(attributes: [.init(type: "CN", value: #" Smith, "J" + <x>; "#)]),
            .init(attributes: [.init(type: "DC", value: "example")]),
        ])
        #expect(dn.description == #"CN=\ Smith\, \"J\" \+ \<x\>\;\ ,DC=example"#)
        #expect(try DistinguishedName(dn.description).rdns == dn.rdns)
    }

    @Test(
        "malformed DNs are rejected with a position",
        arguments: ["CN", "=value", #"CN=x\"#, #"CN="open"#, "CN=a,,DC=b", "C N=x"]
    )
    func rejects(dn: String) {
        #expect(throws: DistinguishedName.ParseError.self) { try DistinguishedName(dn) }
    }
}

@Suite("Filter escaping (RFC 4515)")
struct LDAPFilterTests {
    @Test(
        "special characters are escaped, others pass",
        arguments: [
            ("a*)(objectClass=*", #"a\2a\29\28objectClass=\2a"#),
            (#"back\slash"#, #"back\5cslash"#),
            ("nul\0", #"nul\00"#),
            ("Zoë, \"quoted\"", "Zoë, \"quoted\""),
        ]
    )
    func escapes(value: String, escaped: String) {
        #expect(LDAPFilter.escape(value) == escaped)
    }

    @Test("binary values are escaped byte by byte, and equality wraps the escaped value")
    func binary() {
        #expect(LDAPFilter.escape(bytes: [0x01, 0xab, 0x00]) == #"\01\ab\00"#)
        #expect(LDAPFilter.equality("cn", "a(b)") == #"(cn=a\28b\29)"#)
    }
}
