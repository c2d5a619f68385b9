package import CharterBundle
package import CharterCore
package import CharterStore
import Crypto
package import Foundation

/// Keeps every device's current bundle: works its content out again when the tenant's change feed or
/// signing keys moved, raises `ver` only when the content differs, and re-issues an unchanged bundle once it
/// is past `refresh_after`.
package struct BundleService: Sendable {
    /// How long after issue an agent should fetch again (capped by the bundle's expiry).
    package static let refreshInterval: TimeInterval = 3600
    /// How far `nbf` is back-dated, for endpoint clocks that run slow.
    package static let backdating: TimeInterval = 300
    /// Users seen on a device longer ago than this leave its bundle.
    package static let userRetention: TimeInterval = 90 * 86_400
    /// The most users one bundle carries (the most recently seen).
    package static let maximumUsers = 200

    package let keyring: SigningKeyring
    package let sealer: SecretSealer
    package let policies = TenantPolicyCache()

    package init(keyring: SigningKeyring, sealer: SecretSealer) {
        self.keyring = keyring
        self.sealer = sealer
    }

    package static func issuer(of tenant: TenantID) -> String {
        "urn:charter:tenant:\(tenant)"
    }

    package static func pinSealingContext(_ device: DeviceID) -> String {
        "devices/\(device)/pin"
    }

    /// The current bundles of the tenant's devices among `ids` (revoked and unknown ones are left out), each made
    /// or refreshed if needed: worked out again when the tenant's change feed or signing keys moved, `ver` raised
    /// only when the content differs, re-issued unchanged once past `refresh_after`. Read, locked and stored a
    /// batch at a time (a fetch is a batch of one): what a change wave costs is then mostly the signing and
    /// sealing of each bundle, not a dozen statements per device.
    package func current(
        for ids: [DeviceID], of tenant: TenantID, in tx: Transaction, now: Date
    ) async throws -> [DeviceID: StoredBundle] {
        let keys = try await keyring.ensureKeys(of: tenant, in: tx, now: now)
        let state = State(
            keyState: SigningKeyring.state(keys, at: now), position: try await tx.changeFeed.bundlePosition(of: tenant),
            now: now
        )
        var current: [DeviceID: StoredBundle] = [:]
        let unlocked = try await tx.deviceBundles.get(tenant, devices: ids)
        let candidates = ids.filter { id in
            guard let stored = unlocked[id], state.holds(stored) else { return true }
            current[id] = stored
            return false
        }
        guard !candidates.isEmpty else { return current }
        let stored = try await Self.lock(candidates, of: tenant, in: tx)
        var devices = try await tx.devices.get(tenant, ids: candidates.filter { id in
            guard let stored = stored[id], state.holds(stored) else { return true }
            current[id] = stored
            return false
        })
        guard !devices.isEmpty else { return current }
        let found = try await tx.devices.findComputers(tenant, for: devices.filter { $0.computer == nil })
        for index in devices.indices where devices[index].computer == nil {
            guard let computer = found[devices[index].id] else { continue }
            devices[index].computer = computer
            try await tx.devices.link(tenant, id: devices[index].id, to: computer)
        }
        let seen = try await tx.devices.users(
            tenant, of: devices.map(\.id), since: now.addingTimeInterval(-Self.userRetention), limit: Self.maximumUsers
        )
        var matched: [DeviceUser: ObjectGUID] = [:]
        for (user, guid) in try await tx.devices.directoryUsers(tenant, matching: Array(Set(seen.values.joined()))) {
            matched[user] = guid
        }
        let policy = try await policies.current(of: tenant, in: tx)
        let facts = try await tx.policyFacts.facts(
            about: Array(Set(devices.compactMap(\.computer)).union(matched.values)), in: tenant
        )
        let issuer = try keyring.issuer(for: tenant, keys: keys, at: now)
        var unchanged: [DeviceID] = []
        var issued: [(device: DeviceID, bundle: StoredBundle)] = []
        for device in devices {
            let users = (seen[device.id] ?? []).compactMap { user in matched[user].map { (user: user, guid: $0) } }
            let content = try self.content(
                for: device, on: device.computer, users: users, of: tenant, policy: policy, facts: facts, keys: keys,
                now: now
            )
            switch try make(content, replacing: stored[device.id], in: state, issuer: issuer) {
            case .unchanged(let bundle):
                unchanged.append(device.id)
                current[device.id] = bundle
            case .issued(let bundle):
                issued.append((device.id, bundle))
                current[device.id] = bundle
            }
        }
        try await tx.deviceBundles.confirm(tenant, devices: unchanged, feedSequence: state.position, keyState: state.keyState)
        try await tx.deviceBundles.put(issued, tenant: tenant)
        return current
    }

    /// Locks the bundles of `devices` until the transaction ends, so that concurrent makers (a fetch, a push on
    /// another replica) make one new version, not two: the rows that exist, in id order; then the devices without
    /// one, by advisory lock. Returns the stored bundles, read under the locks.
    static func lock(_ devices: [DeviceID], of tenant: TenantID, in tx: Transaction) async throws -> [DeviceID: StoredBundle] {
        var stored = try await tx.deviceBundles.get(tenant, devices: devices, locking: true)
        let missing = devices.filter { stored[$0] == nil }
        guard !missing.isEmpty else { return stored }
        try await tx.deviceBundles.lock(tenant, devices: missing)
        // Made meanwhile by whoever held the lock.
        stored.merge(try await tx.deviceBundles.get(tenant, devices: missing, locking: true)) { first, _ in first }
        return stored
    }

    /// What a stored bundle must match to be current: the tenant's signing keys and feed position, read in the
    /// bundle's transaction, and the time.
    struct State {
        var keyState: String
        var position: Int64
        var now: Date

        /// Whether `stored` is current: made at this position and key state, and not yet due for a refresh.
        func holds(_ stored: StoredBundle) -> Bool {
            stored.feedSequence == position && stored.keyState == keyState && now < stored.refreshAfter
        }
    }

    /// A bundle worked out again: the stored one when its content is the same and it is not due for a refresh
    /// (its position and key state to be confirmed), else a new one.
    enum Made {
        case unchanged(StoredBundle)
        case issued(StoredBundle)
    }

    /// Signs and seals `content` for its device unless `stored` already carries it; `ver` rises only when the
    /// content differs.
    func make(_ content: Content, replacing stored: StoredBundle?, in state: State, issuer: BundleIssuer) throws -> Made {
        let contentHash = Data(SHA256.hash(data: content.canonicalData))
        if let stored, stored.contentHash == contentHash, state.now < stored.refreshAfter { return .unchanged(stored) }
        let version = stored.map { $0.contentHash == contentHash ? $0.version : $0.version + 1 } ?? 1
        let now = state.now
        let expiresAt = now.addingTimeInterval(content.lifetime)
        let claims = BundleClaims(
            issuer: content.issuer,
            deviceID: content.device.description,
            tenant: content.tenant.description,
            version: version,
            issuedAt: now,
            notBefore: now.addingTimeInterval(-Self.backdating),
            expiresAt: expiresAt,
            refreshAfter: min(now.addingTimeInterval(Self.refreshInterval), expiresAt),
            policy: content.policy,
            pin: content.pin,
            signingKeys: content.signingKeys
        )
        let compact = try issuer.issue(claims, to: try JWK(curve: .x25519, x: content.encryptionKey))
        return .issued(
            StoredBundle(
                version: version, contentHash: contentHash, feedSequence: state.position, keyState: state.keyState,
                issuedAt: claims.issuedAt, refreshAfter: claims.refreshAfter, expiresAt: expiresAt, compact: compact
            )
        )
    }

    /// What a bundle carries besides its times and version.
    struct Content {
        var issuer: String
        var device: DeviceID
        var tenant: TenantID
        var policy: BundlePolicy
        var pin: OfflinePIN
        var signingKeys: [BundleSigningKey]
        /// The device's X25519 key the bundle is sealed to (not content: a new key re-seals the same content).
        var encryptionKey: Data
        /// From issue to hard expiry: the computer policy's offline grace period, at least an hour.
        var lifetime: TimeInterval

        /// The canonical encoding whose hash decides whether the version rises.
        var canonicalData: Data {
            JSONValue.object([
                "iss": .string(issuer),
                "sub": .string(device.description),
                "tenant": .string(tenant.description),
                "policy": policy.jsonValue,
                "pin": pin.jsonValue,
                "signing_keys": .array(signingKeys.map(\.jsonValue)),
                "lifetime": .integer(Int64(lifetime)),
            ]).canonicalData
        }
    }

    /// The content of `device`'s bundle: the policies of its computer and of its directory `users`, over `facts`
    /// about them, its PIN parameters and the tenant's announced signing keys.
    func content(
        for device: Device, on computer: ObjectGUID?, users: [(user: DeviceUser, guid: ObjectGUID)], of tenant: TenantID,
        policy: TenantPolicyCache.Entry, facts: DirectoryFacts, keys: [StoredSigningKey], now: Date
    ) throws -> Content {
        var documents = BundlePolicy.DocumentTable()
        let computerPolicy = policy.resolver.resolve(for: nil, on: computer, in: facts)
        let computerDocument = documents.add(try policy.document(for: computerPolicy))
        var entries: [BundlePolicy.User] = []
        for (user, guid) in users {
            let document = documents.add(try policy.document(for: policy.resolver.resolve(for: guid, on: computer, in: facts)))
            entries.append(
                BundlePolicy.User(sid: user.sid, guid: guid.description, upn: user.upn, document: document)
            )
        }
        let pinSecret = try sealer.open(device.pinSecretSealed, context: Self.pinSealingContext(device.id))
        return Content(
            issuer: Self.issuer(of: tenant),
            device: device.id,
            tenant: tenant,
            policy: BundlePolicy(
                encodedDocuments: documents.byID, computer: computerDocument, defaultUser: computerDocument,
                users: entries
            ),
            pin: try OfflinePIN(secret: pinSecret),
            signingKeys: SigningKeyring.published(keys, at: now),
            encryptionKey: device.encryptionKey,
            lifetime: TimeInterval(max(1, computerPolicy.settings.endpoint.offlineGracePeriodHours) * 3600)
        )
    }
}

extension StoredBundle {
    /// The bundle's entity tag: `"<ver>.<iat>"` (docs/agent-protocol.md, "Bundle").
    package var etag: String {
        "\"\(version).\(Int64(issuedAt.timeIntervalSince1970))\""
    }
}
