package import CharterCore
import CharterDirectory
package import NIOPosix

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The service's outbound policy with the I/O it needs: its own addresses, and name resolution for
/// destinations the service connects to itself (webhook receivers).
///
/// Directory servers are connected by libldap, which resolves their names itself and asks the same
/// ``DestinationPolicy`` about each address in its connect callback (see `LDAPHandle.open`).
package struct OutboundGuard: Sendable {
    package let policy: DestinationPolicy
    let threadPool: NIOThreadPool

    /// The policy for a service listening on `listeningHost`: refuses the special-purpose ranges, the
    /// listening address and every address of the host's interfaces, except in `allowedNetworks`.
    ///
    /// Name resolution blocks, so it runs on `threadPool`: by default the threads that wait on directory
    /// servers (`NIOThreadPool.ldap`), not `.singleton`, whose few threads other blocking work may hold for
    /// longer than a delivery's deadline.
    package init(allowedNetworks: [IPNetwork], listeningHost: String, threadPool: NIOThreadPool = .ldap) {
        var own = Self.interfaceAddresses()
        if let listening = IPAddress(listeningHost) { own.insert(listening) }
        self.init(policy: DestinationPolicy(allowedNetworks: allowedNetworks, ownAddresses: own), threadPool: threadPool)
    }

    package init(policy: DestinationPolicy, threadPool: NIOThreadPool = .ldap) {
        self.policy = policy
        self.threadPool = threadPool
    }

    /// Resolves `host` (a name or an address literal) and returns the first of its addresses the policy
    /// allows, which the caller must connect to instead of resolving again.
    ///
    /// - Throws: ``OutboundRefusal`` when every address is refused, ``NameResolutionError`` when the name
    ///   does not resolve.
    package func resolve(_ host: String) async throws -> IPAddress {
        let addresses = try await threadPool.runIfActive { try Self.lookUp(host) }
        var refusal: OutboundRefusal?
        for address in addresses {
            switch policy.decide(address) {
            case .allowed: return address
            case .refused(let reason): refusal = refusal ?? OutboundRefusal(host: host, address: address, reason: reason)
            }
        }
        guard let refusal else { throw NameResolutionError(host: host) }
        throw refusal
    }

    /// `getaddrinfo` for TCP; blocks.
    static func lookUp(_ host: String) throws(NameResolutionError) -> [IPAddress] {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        #if canImport(Glibc)
            hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        #else
            hints.ai_socktype = SOCK_STREAM
        #endif
        var list: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, nil, &hints, &list) == 0 else { throw NameResolutionError(host: host) }
        defer { freeaddrinfo(list) }
        var addresses: [IPAddress] = []
        var cursor = list
        while let entry = cursor {
            if let socketAddress = entry.pointee.ai_addr, let address = IPAddress(socketAddress: socketAddress),
                !addresses.contains(address)
            {
                addresses.append(address)
            }
            cursor = entry.pointee.ai_next
        }
        guard !addresses.isEmpty else { throw NameResolutionError(host: host) }
        return addresses
    }

    /// Every IPv4 and IPv6 address of this host's interfaces.
    static func interfaceAddresses() -> Set<IPAddress> {
        var list: UnsafeMutablePointer<ifaddrs>?
        guard getifaddrs(&list) == 0 else { return [] }
        defer { freeifaddrs(list) }
        var addresses: Set<IPAddress> = []
        var cursor = list
        while let entry = cursor {
            if let socketAddress = entry.pointee.ifa_addr, let address = IPAddress(socketAddress: socketAddress) {
                addresses.insert(address)
            }
            cursor = entry.pointee.ifa_next
        }
        return addresses
    }
}

/// A tenant-named host that does not resolve to any address.
package struct NameResolutionError: Error, Hashable, Sendable, CustomStringConvertible {
    package var host: String
    package var description: String { "\(host) does not resolve" }
}
