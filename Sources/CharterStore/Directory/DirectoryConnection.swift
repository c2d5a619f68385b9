package import CharterCore
package import Foundation

/// A tenant's connection to its Active Directory, as stored: where to reach it, how to bind, when to sync.
///
/// The bind password is only ever held sealed (``sealedPassword``, SecretSealer's text form); the API
/// reports whether one is set, never the value.
package struct DirectoryConnection: Sendable, Hashable {
    /// How the LDAP transport is secured.
    package enum TLSMode: String, Sendable, Hashable, CaseIterable {
        case ldaps
        case startTLS = "start_tls"
        /// Cleartext LDAP, only when an administrator chose it explicitly.
        case plain
    }

    package var id: DirectoryConnectionID
    package var tenantID: TenantID
    package var name: String
    /// LDAP URLs in failover order.
    package var urls: [String]
    package var baseDN: String
    package var bindDN: String
    package var sealedPassword: String
    package var tlsMode: TLSMode
    /// Trust roots for the DC's certificate; `nil` uses the system's.
    package var caPEM: String?
    package var interval: Duration
    package var deletionThreshold: DeletionThreshold
    package var isEnabled: Bool
    package var version: Int64
    package var createdAt: Date
    package var updatedAt: Date

    package init(
        id: DirectoryConnectionID, tenantID: TenantID, name: String, urls: [String], baseDN: String, bindDN: String,
        sealedPassword: String, tlsMode: TLSMode, caPEM: String?, interval: Duration,
        deletionThreshold: DeletionThreshold = DeletionThreshold(), isEnabled: Bool, version: Int64 = 1,
        createdAt: Date, updatedAt: Date
    ) {
        self.id = id
        self.tenantID = tenantID
        self.name = name
        self.urls = urls
        self.baseDN = baseDN
        self.bindDN = bindDN
        self.sealedPassword = sealedPassword
        self.tlsMode = tlsMode
        self.caPEM = caPEM
        self.interval = interval
        self.deletionThreshold = deletionThreshold
        self.isEnabled = isEnabled
        self.version = version
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }

    /// Whether `other` sends the bind password to the same place under the same trust: the same URLs, TLS
    /// mode, CA and bind DN.
    ///
    /// The sealed password is bound to these; a change to any of them needs the password again, or a tenant
    /// admin could point the stored password at a listener of their own.
    package func hasSameDestination(as other: DirectoryConnection) -> Bool {
        urls == other.urls && tlsMode == other.tlsMode && caPEM == other.caPEM && bindDN == other.bindDN
    }

    /// The context string bound into the sealed password, so a sealed value cannot be moved to another row.
    package static func sealingContext(tenant: TenantID, connection: DirectoryConnectionID) -> String {
        "charter.directory-connection.bind-password/\(tenant)/\(connection)"
    }
}

/// How many deletions one sync may apply without an administrator's confirmation.
package struct DeletionThreshold: Sendable, Hashable {
    /// At most this many objects.
    package var objects: Int
    /// At most this percentage of the objects stored before the sync.
    package var percent: Int

    package init(objects: Int = 500, percent: Int = 10) {
        self.objects = objects
        self.percent = percent
    }

    /// The number of deletions allowed when `stored` objects are stored: the smaller of the two limits.
    package func allowedDeletions(stored: Int) -> Int {
        min(objects, stored * percent / 100)
    }
}
