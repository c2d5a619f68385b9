import CharterCore
import Testing

@Suite("Addresses and CIDR blocks")
struct IPAddressTests {
    @Test(
        "addresses parse to one canonical form",
        arguments: [
            ("127.0.0.1", "127.0.0.1"), ("0.0.0.0", "0.0.0.0"), ("255.255.255.255", "255.255.255.255"),
            ("::", "::"), ("::1", "::1"), ("[::1]", "::1"), ("FE80::1", "fe80::1"),
            ("2001:db8:0:0:0:0:0:1", "2001:db8::1"), ("2001:0db8::0001", "2001:db8::1"),
            ("::ffff:127.0.0.1", "::ffff:7f00:1"), ("::ffff:7f00:1", "::ffff:7f00:1"),
            ("1:0:0:2:0:0:0:3", "1:0:0:2::3"), ("1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8"), ("1::", "1::"),
        ]
    )
    func parses(text: String, canonical: String) throws {
        #expect(try #require(IPAddress(text)).description == canonical)
    }

    @Test(
        "ambiguous or malformed addresses do not parse",
        arguments: [
            "", "1.2.3", "1.2.3.4.5", "256.0.0.1", "01.2.3.4", "0x7f.0.0.1", "127.1", "2130706433", "1.2.3.-4",
            " 1.2.3.4", ":::", "1::2::3", "1:2:3:4:5:6:7:8:9", "12345::", "::g", "fe80::1%eth0", "1:2:3:4:5:6:7::8:9",
            "::1.2.3", "1.2.3.4::", "localhost",
        ]
    )
    func refuses(text: String) {
        #expect(IPAddress(text) == nil)
    }

    @Test(
        "a block contains exactly its addresses",
        arguments: [
            ("10.0.0.0/8", "10.0.0.0", true), ("10.0.0.0/8", "10.255.255.255", true), ("10.0.0.0/8", "11.0.0.0", false),
            ("10.0.0.0/8", "9.255.255.255", false), ("10.1.2.3/8", "10.9.9.9", true), ("0.0.0.0/0", "8.8.8.8", true),
            ("0.0.0.0/0", "::1", false), ("::/0", "::1", true), ("::/0", "1.2.3.4", false),
            ("fc00::/7", "fdff:ffff::1", true), ("fc00::/7", "fe00::", false), ("192.0.2.1", "192.0.2.1", true),
            ("192.0.2.1", "192.0.2.2", false), ("100.64.0.0/10", "100.127.255.255", true),
            ("100.64.0.0/10", "100.128.0.0", false),
        ]
    )
    func contains(block: String, address: String, expected: Bool) throws {
        let network = try #require(IPNetwork(block))
        #expect(network.contains(try #require(IPAddress(address))) == expected)
    }

    @Test("malformed blocks do not parse", arguments: ["10.0.0.0/33", "::/129", "10.0.0.0/", "10.0.0.0/-1", "/8", "10/8"])
    func malformedBlocks(text: String) {
        #expect(IPNetwork(text) == nil)
    }
}

@Suite("Destination policy")
struct DestinationPolicyTests {
    typealias Refusal = DestinationPolicy.Refusal

    @Test(
        "the default refuses every special-purpose range, at its edges and in its mapped forms",
        arguments: [
            ("127.0.0.1", Refusal.loopback), ("127.0.0.0", .loopback), ("127.255.255.255", .loopback),
            ("::1", .loopback), ("::ffff:127.0.0.1", .loopback), ("64:ff9b::127.0.0.1", .loopback),
            ("169.254.169.254", .linkLocal), ("169.254.0.0", .linkLocal), ("169.254.255.255", .linkLocal),
            ("fe80::", .linkLocal), ("febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff", .linkLocal),
            ("::ffff:169.254.169.254", .linkLocal),
            ("10.0.0.0", .privateNetwork), ("10.0.0.1", .privateNetwork), ("10.255.255.255", .privateNetwork),
            ("172.16.0.0", .privateNetwork), ("172.31.255.255", .privateNetwork), ("192.168.0.0", .privateNetwork),
            ("192.168.255.255", .privateNetwork), ("::ffff:10.0.0.1", .privateNetwork),
            ("::ffff:192.168.1.1", .privateNetwork), ("fc00::", .privateNetwork), ("fd12:3456::1", .privateNetwork),
            ("fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", .privateNetwork), ("fec0::1", .privateNetwork),
            ("100.64.0.0", .sharedAddressSpace), ("100.127.255.255", .sharedAddressSpace),
            ("::ffff:100.64.0.1", .sharedAddressSpace),
            ("224.0.0.0", .multicast), ("239.255.255.255", .multicast), ("ff02::1", .multicast), ("ff00::", .multicast),
            ("::ffff:224.0.0.1", .multicast),
            ("0.0.0.0", .unspecified), ("0.255.255.255", .unspecified), ("::", .unspecified),
            ("::ffff:0.0.0.0", .unspecified),
            ("255.255.255.255", .reserved), ("240.0.0.1", .reserved), ("::7f00:1", .reserved),
        ]
    )
    func refusesByDefault(text: String, refusal: Refusal) throws {
        #expect(DestinationPolicy().decide(try #require(IPAddress(text))) == .refused(refusal))
    }

    @Test(
        "global unicast addresses next to the special ranges are allowed",
        arguments: [
            "8.8.8.8", "126.255.255.255", "128.0.0.0", "9.255.255.255", "11.0.0.0", "172.15.255.255", "172.32.0.0",
            "192.167.255.255", "192.169.0.0", "100.63.255.255", "100.128.0.0", "169.253.255.255", "169.255.0.0",
            "223.255.255.255", "2001:db8::1", "2606:4700::1111", "fbff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "fe00::1",
            "::ffff:8.8.8.8", "64:ff9b::8.8.8.8", "::2:0:0",
        ]
    )
    func allowsGlobal(text: String) throws {
        #expect(DestinationPolicy().decide(try #require(IPAddress(text))) == .allowed)
    }

    @Test("the service's own addresses are refused, also in mapped form")
    func ownAddresses() throws {
        let own = try #require(IPAddress("203.0.113.7"))
        let policy = DestinationPolicy(ownAddresses: [own])
        #expect(policy.decide(own) == .refused(.ownAddress))
        #expect(policy.decide(try #require(IPAddress("::ffff:203.0.113.7"))) == .refused(.ownAddress))
        #expect(policy.decide(try #require(IPAddress("203.0.113.8"))) == .allowed)
    }

    @Test(
        "an allowed block wins over every refusal, and only for its own addresses",
        arguments: [
            ("127.0.0.0/8", "127.0.0.2", true), ("127.0.0.0/8", "::ffff:127.0.0.1", true), ("127.0.0.0/8", "::1", false),
            ("127.0.0.0/8", "10.0.0.1", false), ("::1/128", "::1", true), ("10.1.0.0/16", "10.1.2.3", true),
            ("10.1.0.0/16", "10.2.0.1", false), ("203.0.113.7/32", "203.0.113.7", true),
        ]
    )
    func allowedNetworks(block: String, text: String, allowed: Bool) throws {
        let policy = DestinationPolicy(
            allowedNetworks: [try #require(IPNetwork(block))], ownAddresses: [try #require(IPAddress("203.0.113.7"))]
        )
        #expect((policy.decide(try #require(IPAddress(text))) == .allowed) == allowed)
    }
}
