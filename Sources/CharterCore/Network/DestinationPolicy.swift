/// Which network addresses the service may connect to on a tenant's behalf (webhook receivers, directory
/// servers, whatever a tenant names later).
///
/// A tenant types host names; the service resolves them and asks the policy about each address before it
/// connects, then connects to that very address (never resolving again, so DNS rebinding cannot swap it).
/// Refused by default: loopback, link-local (including the cloud metadata address 169.254.169.254),
/// RFC 1918 and unique-local private networks, CGNAT shared space, multicast, unspecified, reserved and
/// broadcast addresses, the IPv4-mapped and NAT64 forms of all those, and the service's own addresses. An
/// operator who runs receivers or directories on such networks allows them as CIDRs
/// (`outbound.allowed_cidrs`); an allowed block wins over every refusal.
package struct DestinationPolicy: Sendable, Hashable {
    /// Why an address is refused.
    package enum Refusal: String, Sendable, Hashable, CaseIterable {
        case loopback
        case linkLocal = "link-local"
        case privateNetwork = "private network"
        case sharedAddressSpace = "shared address space (CGNAT)"
        case multicast
        case unspecified
        case reserved
        /// One of the service's own addresses.
        case ownAddress = "the service's own address"
    }

    /// What the policy says about one address.
    package enum Decision: Sendable, Hashable {
        case allowed
        case refused(Refusal)
    }

    /// Blocks the operator allows although they would be refused.
    package var allowedNetworks: [IPNetwork]
    /// The addresses this service listens on or has on its interfaces.
    package var ownAddresses: Set<IPAddress>

    package init(allowedNetworks: [IPNetwork] = [], ownAddresses: Set<IPAddress> = []) {
        self.allowedNetworks = allowedNetworks
        self.ownAddresses = ownAddresses
    }

    /// Whether the service may connect to `address`.
    package func decide(_ address: IPAddress) -> Decision {
        let forms = [address] + [Self.embeddedIPv4(address)].compactMap { $0 }
        if allowedNetworks.contains(where: { network in forms.contains { network.contains($0) } }) { return .allowed }
        if let refusal = forms.lazy.compactMap(Self.specialPurpose).first { return .refused(refusal) }
        if forms.contains(where: ownAddresses.contains) { return .refused(.ownAddress) }
        return .allowed
    }

    /// The special-purpose block `address` is in, `nil` for a global unicast address.
    ///
    /// Only the address's own form is looked at; ``decide(_:)`` also looks at the IPv4 address that an
    /// IPv4-mapped or NAT64 address carries.
    package static func specialPurpose(_ address: IPAddress) -> Refusal? {
        specialBlocks.first { $0.network.contains(address) }?.refusal
    }

    /// The IPv4 address an IPv6 address stands for: IPv4-mapped `::ffff:0:0/96` and the NAT64 well-known
    /// prefix `64:ff9b::/96`, which a NAT64 gateway turns into a connection to that IPv4 address.
    package static func embeddedIPv4(_ address: IPAddress) -> IPAddress? {
        if let mapped = address.mappedIPv4 { return mapped }
        guard nat64.contains(address) else { return nil }
        return IPAddress(bytes: Array(address.bytes[12..<16]))
    }

    private static let nat64 = block("64:ff9b::/96")

    private static let specialBlocks: [(network: IPNetwork, refusal: Refusal)] = [
        (block("0.0.0.0/8"), .unspecified),
        (block("127.0.0.0/8"), .loopback),
        (block("10.0.0.0/8"), .privateNetwork),
        (block("172.16.0.0/12"), .privateNetwork),
        (block("192.168.0.0/16"), .privateNetwork),
        (block("100.64.0.0/10"), .sharedAddressSpace),
        (block("169.254.0.0/16"), .linkLocal),
        (block("192.0.0.0/24"), .reserved),
        (block("224.0.0.0/4"), .multicast),
        (block("240.0.0.0/4"), .reserved),
        (block("::/128"), .unspecified),
        (block("::1/128"), .loopback),
        // IPv4-compatible addresses (deprecated, RFC 4291 §2.5.5.1): never a real destination.
        (block("::/96"), .reserved),
        (block("fc00::/7"), .privateNetwork),
        (block("fe80::/10"), .linkLocal),
        // Site-local (deprecated, RFC 3879) is still routed as private by some networks.
        (block("fec0::/10"), .privateNetwork),
        (block("ff00::/8"), .multicast),
    ]

    private static func block(_ text: String) -> IPNetwork {
        guard let network = IPNetwork(text) else { preconditionFailure("invalid built-in block \(text)") }
        return network
    }
}

/// A connection to a tenant-named destination that the ``DestinationPolicy`` did not allow.
package struct OutboundRefusal: Error, Hashable, Sendable, CustomStringConvertible {
    /// The host name or address the tenant gave.
    package var host: String
    /// The address it resolved to.
    package var address: IPAddress
    package var reason: DestinationPolicy.Refusal

    package init(host: String, address: IPAddress, reason: DestinationPolicy.Refusal) {
        self.host = host
        self.address = address
        self.reason = reason
    }

    package var description: String {
        "refused by the outbound policy: \(host) is \(address) (\(reason.rawValue))"
    }
}
