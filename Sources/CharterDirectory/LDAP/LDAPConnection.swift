import CharterCore
import CLDAP
package import Logging
package import NIOPosix
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A bound connection to one directory server, over OpenLDAP's libldap.
///
/// libldap blocks, so every call runs on the `NIOThreadPool` handed in, never on the Swift
/// concurrency pool or an event loop, and every call is bounded by the configuration's timeouts.
/// The handle sits in a `Mutex`: one thread uses it at a time, operations on one connection run
/// one after another.
///
/// ```swift
/// let connection = try await LDAPConnection.connect(configuration, threadPool: .ldap, logger: logger)
/// defer { connection.close() }   // or `await connection.unbind()`
/// ```
package final class LDAPConnection: Sendable {
    /// The URL of the server this connection is bound to (the first of the failover list that worked).
    package let url: String
    package let configuration: LDAPConfiguration
    let threadPool: NIOThreadPool
    let logger: Logger
    let handle: Mutex<LDAPHandle?>

    private init(
        url: String, configuration: LDAPConfiguration, handle: LDAPHandle, threadPool: NIOThreadPool, logger: Logger
    ) {
        self.url = url
        self.configuration = configuration
        self.threadPool = threadPool
        self.logger = logger
        self.handle = Mutex(handle)
    }

    deinit {
        handle.withLock { $0?.unbind() }
    }

    /// Connects and binds to the first URL of `configuration` that answers, trying them in order.
    ///
    /// A URL is skipped when its server cannot be reached (refused, timed out, TLS failure);
    /// an answer from a server (such as invalid credentials) stops the failover, because every DC
    /// of a domain would answer alike and each attempt counts against the account's lockout.
    ///
    /// - Parameters:
    ///   - configuration: URLs, transport security, trust roots, credentials and timeouts.
    ///   - threadPool: where the blocking libldap calls run.
    ///   - logger: receives one debug line per attempt.
    /// - Returns: A bound connection.
    /// - Throws: `LDAPError`; when every URL failed, the last URL's error.
    package static func connect(
        _ configuration: LDAPConfiguration, threadPool: NIOThreadPool, logger: Logger
    ) async throws -> LDAPConnection {
        try configuration.validate()
        var lastError = LDAPError(code: .connectError, operation: "connect")
        for url in configuration.urls {
            do {
                let handle = try await threadPool.runIfActive {
                    try LDAPHandle.open(url: url, configuration: configuration)
                }
                logger.debug("ldap connected", metadata: ["ldap.url": "\(url)"])
                return LDAPConnection(
                    url: url, configuration: configuration, handle: handle, threadPool: threadPool, logger: logger
                )
            } catch let error as LDAPError {
                logger.debug("ldap connect failed", metadata: ["ldap.url": "\(url)", "error": "\(error)"])
                lastError = error
                if !error.isConnectionFailure { throw error }
            }
        }
        throw lastError
    }

    /// Unbinds and closes the connection on the thread pool; later operations fail with `serverDown`.
    package func unbind() async throws {
        try await threadPool.runIfActive { self.close() }
    }

    /// Unbinds and closes the connection at once, on the calling thread; later operations fail with
    /// `serverDown`.
    ///
    /// libldap writes the unbind request and closes the socket without waiting for the server, so
    /// this does not block on the network; prefer `unbind()` from async code all the same.
    package func close() {
        handle.withLock { handle in
            handle?.unbind()
            handle = nil
        }
    }

    /// Runs `body` with the libldap handle on the thread pool.
    func withHandle<Result: Sendable>(
        _ operation: String, _ body: @escaping @Sendable (OpaquePointer) throws(LDAPError) -> Result
    ) async throws -> Result {
        let url = self.url
        return try await threadPool.runIfActive {
            try self.handle.withLock { handle throws(LDAPError) -> Result in
                guard let ld = handle?.pointer else {
                    throw LDAPError(
                        code: .serverDown, operation: operation, diagnosticMessage: "connection closed", url: url)
                }
                do throws(LDAPError) {
                    return try body(ld)
                } catch var error {
                    error.url = url
                    throw error
                }
            }
        }
    }

    var operationMilliseconds: Int { configuration.operationTimeout.ldapMilliseconds }
}

/// An owned libldap handle.
///
/// `@unchecked Sendable` is safe because a handle is only ever used by one thread at a time: `open`
/// creates it on a pool thread and returns it, `LDAPConnection` moves it into its `Mutex` at once,
/// and from then on every use happens inside `withLock`.
struct LDAPHandle: @unchecked Sendable {
    let pointer: OpaquePointer
    /// Checks every address libldap connects to; lives as long as the handle (`nil` in the short-lived
    /// wrappers that only borrow `pointer` for error helpers).
    var peerGuard: PeerGuard? = nil

    /// Initialises a handle for `url`, applies options and TLS, and binds. Blocks.
    ///
    /// libldap resolves the URL's host and connects; its connect callback hands each connected address to the
    /// configuration's destination policy before TLS or any LDAP message, and a refused address is closed
    /// unused (libldap then tries the host's next address). So the address checked is the address used, and
    /// the bind password only ever goes to an allowed one.
    static func open(url: String, configuration: LDAPConfiguration) throws(LDAPError) -> LDAPHandle {
        var ld: OpaquePointer?
        let rc = ldap_initialize(&ld, url)
        guard rc == LDAP_SUCCESS, let ld else {
            throw LDAPError(
                code: .init(rawValue: rc), operation: "initialize", diagnosticMessage: "bad URL \(url)", url: url)
        }
        let peerGuard = PeerGuard(policy: configuration.destinations, host: Self.host(of: url))
        let handle = LDAPHandle(pointer: ld, peerGuard: peerGuard)
        do throws(LDAPError) {
            try handle.check(ldap_set_option(ld, LDAP_OPT_CONNECT_CB, peerGuard.callback), "set connect callback")
            try handle.configure(configuration)
            if configuration.transportSecurity == .startTLS {
                try handle.check(ldap_start_tls_s(ld, nil, nil), "startTLS")
            }
            try handle.check(
                charter_ldap_simple_bind(
                    ld, configuration.bindDN, configuration.password, configuration.password.utf8.count),
                "bind"
            )
        } catch var error {
            handle.unbind()
            error.url = url
            if error.isConnectionFailure, let refusal = peerGuard.lastRefusal {
                error = LDAPError(code: .connectError, operation: "connect", url: url, refusal: refusal)
            }
            throw error
        }
        return handle
    }

    /// The host part of an LDAP URL, for messages.
    static func host(of url: String) -> String {
        var rest = Substring(url)
        if let scheme = rest.firstRange(of: "://") { rest = rest[scheme.upperBound...] }
        return String(rest.prefix { $0 != "/" && $0 != "?" })
    }

    private func configure(_ configuration: LDAPConfiguration) throws(LDAPError) {
        try check(charter_ldap_set_int(pointer, LDAP_OPT_PROTOCOL_VERSION, LDAP_VERSION3), "set protocol version")
        // AD answers searches of a domain root with continuation references to its DNS partitions;
        // chasing them would bind anonymously elsewhere.
        try check(charter_ldap_set_flag(pointer, LDAP_OPT_REFERRALS, 0), "disable referrals")
        try check(
            charter_ldap_set_timeout(pointer, LDAP_OPT_NETWORK_TIMEOUT, configuration.connectTimeout.ldapMilliseconds),
            "set network timeout"
        )
        try check(
            charter_ldap_set_timeout(pointer, LDAP_OPT_TIMEOUT, configuration.operationTimeout.ldapMilliseconds),
            "set operation timeout"
        )
        guard configuration.transportSecurity != .plain else { return }
        try check(
            charter_ldap_set_int(
                pointer, LDAP_OPT_X_TLS_REQUIRE_CERT,
                configuration.verifiesCertificate ? LDAP_OPT_X_TLS_DEMAND : LDAP_OPT_X_TLS_NEVER
            ),
            "set certificate verification"
        )
        switch configuration.trustRoots {
        case .system:
            try newTLSContext()
        case .pemFile(let path):
            try check(charter_ldap_set_string(pointer, LDAP_OPT_X_TLS_CACERTFILE, path), "set CA file")
            try newTLSContext()
        case .pem(let text):
            // libldap over GnuTLS loads CAs from files only; the file lives until the context has read it.
            let path = try TemporaryPEMFile.write(text)
            defer { unlink(path) }
            try check(charter_ldap_set_string(pointer, LDAP_OPT_X_TLS_CACERTFILE, path), "set CA file")
            try newTLSContext()
        }
    }

    /// A TLS context of this handle's own, so connections of different tenants never share CAs.
    private func newTLSContext() throws(LDAPError) {
        try check(charter_ldap_set_int(pointer, LDAP_OPT_X_TLS_NEWCTX, 0), "create TLS context")
    }

    /// Throws the handle's error when `rc` is not success.
    func check(_ rc: Int32, _ operation: String) throws(LDAPError) {
        guard rc != LDAP_SUCCESS else { return }
        throw error(rc, operation)
    }

    /// The error for `rc` with the handle's diagnostic message.
    func error(_ rc: Int32, _ operation: String, matchedDN: String = "") -> LDAPError {
        var diagnostic = ""
        if let message = charter_ldap_diagnostic_message(pointer) {
            diagnostic = String(cString: message)
            ldap_memfree(message)
        }
        return LDAPError(
            code: .init(rawValue: rc), operation: operation, diagnosticMessage: diagnostic, matchedDN: matchedDN)
    }

    func unbind() {
        ldap_unbind_ext_s(pointer, nil, nil)
    }
}

/// The destination policy as libldap's connect callback (`LDAP_OPT_CONNECT_CB`).
///
/// `@unchecked Sendable` is safe because `callback` is written once here and then only read by libldap, on
/// the thread that holds the handle; `lastRefusal` is behind a `Mutex`.
final class PeerGuard: @unchecked Sendable {
    let policy: DestinationPolicy
    let host: String
    /// libldap keeps this pointer (not a copy) until the handle is freed, so it lives as long as the guard.
    let callback: UnsafeMutablePointer<ldap_conncb>
    private let refusal = Mutex<OutboundRefusal?>(nil)

    init(policy: DestinationPolicy, host: String) {
        self.policy = policy
        self.host = host
        callback = .allocate(capacity: 1)
        callback.initialize(to: ldap_conncb())
        callback.pointee.lc_add = { _, _, _, address, context in
            guard let argument = context?.pointee.lc_arg else { return -1 }
            let peerGuard = Unmanaged<PeerGuard>.fromOpaque(argument).takeUnretainedValue()
            return peerGuard.admits(address) ? 0 : -1
        }
        callback.pointee.lc_del = { _, _, _ in }
        callback.pointee.lc_arg = Unmanaged.passUnretained(self).toOpaque()
    }

    deinit {
        callback.deinitialize(count: 1)
        callback.deallocate()
    }

    /// The last address refused, if any.
    var lastRefusal: OutboundRefusal? { refusal.withLock { $0 } }

    /// Whether the policy allows the connected peer; addresses of other families (or none) are refused.
    private func admits(_ address: UnsafeMutablePointer<sockaddr>?) -> Bool {
        guard let address, let peer = IPAddress(socketAddress: address) else { return false }
        guard case .refused(let reason) = policy.decide(peer) else { return true }
        refusal.withLock { $0 = OutboundRefusal(host: host, address: peer, reason: reason) }
        return false
    }
}

/// A private temporary file holding CA certificates.
enum TemporaryPEMFile {
    static func write(_ text: String) throws(LDAPError) -> String {
        var template = Array("/tmp/charter-ldap-ca-XXXXXX".utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { buffer -> Int32 in
            guard let base = buffer.baseAddress else { return -1 }
            return mkstemp(base)
        }
        guard fd >= 0 else {
            throw LDAPError(code: .parameterError, operation: "write CA file", diagnosticMessage: "mkstemp failed")
        }
        defer { close(fd) }
        let bytes = Array(text.utf8)
        #if canImport(Glibc)
            let written = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        #else
            let written = bytes.withUnsafeBytes { Darwin.write(fd, $0.baseAddress, $0.count) }
        #endif
        let path = String(decoding: template.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self)
        guard written == bytes.count else {
            unlink(path)
            throw LDAPError(code: .parameterError, operation: "write CA file", diagnosticMessage: "short write")
        }
        return path
    }
}

extension NIOThreadPool {
    /// Threads for libldap's blocking calls (and the service's other network waits: resolving tenant-named
    /// hosts), started once and shared by the process like `.singleton`.
    ///
    /// `.singleton` has a thread per core; a full sync alone keeps two of them waiting on the DC (its two
    /// halves), so on a small host a second sync, or a half's ranged member reads, would wait for a thread
    /// while no CPU is busy. These threads mostly wait on the network: 16 of them cost little.
    package static let ldap: NIOThreadPool = {
        let pool = NIOThreadPool(numberOfThreads: 16)
        pool.start()
        return pool
    }()
}
