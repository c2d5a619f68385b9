import CharterCore
package import Configuration

/// The limits that keep one tenant, credential or peer from starving the others (docs/operations.md, "Limits").
///
/// ## Configuration keys
/// - `http.header_timeout_seconds` (int 1–300, default `10`): a connection that has not sent a complete request
///   head this long after it opened or after its previous response ended is closed (slow or idle clients).
/// - `http.idle_timeout_seconds` (int 1–3600, default `60`): a connection on which nothing is read or written
///   this long while no response is being produced is closed (a stalled request body, among others).
/// - `http.backlog` (int 16–65535, default `4096`): connections the kernel holds accepted but not yet taken by
///   the service (the listen queue; Linux caps it at `net.core.somaxconn`). A reconnect storm — agents of a
///   stopped replica, thousands of streams at once — waits in it instead of being dropped and retried.
/// - `http.enroll_max_body_bytes` (int 1024–1048576, default `16384`): the body of `POST /v1/agent/enroll`, read
///   before its enrollment token is checked.
/// - `directory.sync.deadline_seconds` (int 60–86400, default `1800`): a sync still working after this fails.
/// - `directory.sync.max_objects` (int 100–10000000, default `100000`): a sync whose read returns more objects
///   and tombstones fails.
/// - `directory.sync.max_runs_per_process` (int 1–64, default `4`): syncs started through the API that one
///   process runs at once.
/// - `directory.sync.max_runs_per_tenant` (int 1–64, default `2`): connections of one tenant being synced at
///   once over all replicas, counted when a sync is started through the API.
/// - `rate_limit.tenant_per_second` (int 0–1000000, default `2000`; `0` turns it off) and
///   `rate_limit.tenant_burst` (int 1–10000000, default `20000`): requests of one tenant's devices and
///   tenant-scoped API keys, per process.
/// - `rate_limit.credential_per_second` (int 0–1000000, default `200`) and `rate_limit.credential_burst` (int
///   1–10000000, default `400`): requests of one API key's principal or one device, per process.
/// - `rate_limit.enrollment_per_second` (int 0–1000000, default `100`) and `rate_limit.enrollment_burst` (int
///   1–10000000, default `10000`): enrollments with one enrollment token, per process.
/// - `rate_limit.max_buckets` (int 1000–10000000, default `100000`): token buckets one process holds at most.
/// - `quota.devices_per_tenant` (int 1–10000000, default `100000`): enrolled, unrevoked devices of a tenant.
/// - `quota.directory_connections_per_tenant` (int 1–1000, default `20`).
/// - `quota.webhooks_per_tenant` (int 1–1000, default `25`).
/// - `quota.connectors_per_tenant` (int 1–1000, default `20`): on-premises connectors of a tenant, not revoked.
/// - `quota.known_users_per_device` (int 1–100000, default `1000`): users a device's check-ins are remembered
///   for; beyond it the least recently seen are forgotten.
/// - `email.max_per_tenant_per_hour` (int 1–1000000, default `500`): approval-email deliveries (one per
///   recipient) one tenant may have sent in any hour; due ones beyond it are recorded as failed, unsent.
package struct LimitsConfiguration: Sendable {
    /// How much of each thing one tenant (or device) may hold.
    package struct Quotas: Sendable {
        package var devicesPerTenant = 100_000
        package var directoryConnectionsPerTenant = 20
        package var webhooksPerTenant = 25
        package var knownUsersPerDevice = 1000
        package var connectorsPerTenant = 20

        package init() {}
    }

    package var headerTimeoutSeconds = 10
    package var idleTimeoutSeconds = 60
    package var backlog = 4096
    package var enrollMaximumBodyBytes = 16384
    package var syncDeadlineSeconds = 1800
    package var syncMaximumObjects = 100_000
    package var syncRunsPerProcess = 4
    package var syncRunsPerTenant = 2
    package var tenantRate = (perSecond: 2000, burst: 20000)
    package var credentialRate = (perSecond: 200, burst: 400)
    package var enrollmentRate = (perSecond: 100, burst: 10000)
    package var maximumBuckets = 100_000
    package var quotas = Quotas()
    package var emailsPerTenantPerHour = 500
    /// The rate limiter's clock, seconds on a monotonic clock; `nil` (always, in `charter serve`) is the
    /// process's. Not a configuration key: tests pass a clock they move by hand, so whether a bucket refilled
    /// never depends on how fast the machine ran the test.
    package var rateLimitClock: (@Sendable () -> Double)?

    package init() {}

    /// Reads and validates the keys above.
    ///
    /// - Throws: ``ConfigurationError`` naming the first key whose value is unacceptable.
    package init(reader: ConfigReader) throws {
        let int = ServerConfiguration.int
        headerTimeoutSeconds = try int(reader, "http.header_timeout_seconds", headerTimeoutSeconds, 1...300)
        idleTimeoutSeconds = try int(reader, "http.idle_timeout_seconds", idleTimeoutSeconds, 1...3600)
        backlog = try int(reader, "http.backlog", backlog, 16...65535)
        enrollMaximumBodyBytes = try int(reader, "http.enroll_max_body_bytes", enrollMaximumBodyBytes, 1024...(1 << 20))
        syncDeadlineSeconds = try int(reader, "directory.sync.deadline_seconds", syncDeadlineSeconds, 60...86400)
        syncMaximumObjects = try int(reader, "directory.sync.max_objects", syncMaximumObjects, 100...10_000_000)
        syncRunsPerProcess = try int(reader, "directory.sync.max_runs_per_process", syncRunsPerProcess, 1...64)
        syncRunsPerTenant = try int(reader, "directory.sync.max_runs_per_tenant", syncRunsPerTenant, 1...64)
        tenantRate = try Self.rate(reader, "tenant", default: tenantRate)
        credentialRate = try Self.rate(reader, "credential", default: credentialRate)
        enrollmentRate = try Self.rate(reader, "enrollment", default: enrollmentRate)
        maximumBuckets = try int(reader, "rate_limit.max_buckets", maximumBuckets, 1000...10_000_000)
        quotas.devicesPerTenant = try int(reader, "quota.devices_per_tenant", quotas.devicesPerTenant, 1...10_000_000)
        quotas.directoryConnectionsPerTenant = try int(
            reader, "quota.directory_connections_per_tenant", quotas.directoryConnectionsPerTenant, 1...1000
        )
        quotas.webhooksPerTenant = try int(reader, "quota.webhooks_per_tenant", quotas.webhooksPerTenant, 1...1000)
        quotas.connectorsPerTenant = try int(reader, "quota.connectors_per_tenant", quotas.connectorsPerTenant, 1...1000)
        emailsPerTenantPerHour = try int(reader, "email.max_per_tenant_per_hour", emailsPerTenantPerHour, 1...1_000_000)
        quotas.knownUsersPerDevice = try int(
            reader, "quota.known_users_per_device", quotas.knownUsersPerDevice, 1...100_000
        )
    }

    private static func rate(
        _ reader: ConfigReader, _ scope: String, default value: (perSecond: Int, burst: Int)
    ) throws -> (perSecond: Int, burst: Int) {
        (
            try ServerConfiguration.int(reader, "rate_limit.\(scope)_per_second", default: value.perSecond, in: 0...1_000_000),
            try ServerConfiguration.int(reader, "rate_limit.\(scope)_burst", default: value.burst, in: 1...10_000_000)
        )
    }

    /// The process's token buckets for these rates.
    func rateLimiter() -> RateLimiter {
        var rates: [RateLimiter.Scope: TokenBucket.Rate] = [:]
        for (scope, rate) in [(RateLimiter.Scope.tenant, tenantRate), (.credential, credentialRate), (.enrollment, enrollmentRate)]
        where rate.perSecond > 0 {
            rates[scope] = TokenBucket.Rate(perSecond: Double(rate.perSecond), burst: Double(rate.burst))
        }
        return RateLimiter(rates: rates, maximumBuckets: maximumBuckets, now: rateLimitClock)
    }
}
