package import CharterCore
package import Foundation

/// A tenant's connection to its Active Directory, as stored: how it is read, when to sync.
///
/// A connection is read either by the service over LDAP (``Transport/direct(_:)``, with the LDAP settings and the
/// sealed bind password) or by connectors at the customer's site (``Transport/connector(_:)``, which stores
/// neither the DC's address nor a password). The bind password is only ever held sealed
/// (``LDAPSettings/sealedPassword``, SecretSealer's text form); the API reports whether one is set, never the
/// value.
package struct DirectoryConnection: Sendable, Hashable {
    /// How the LDAP transport is secured.
    package enum TLSMode: String, Sendable, Hashable, CaseIterable {
        case ldaps
        case startTLS = "start_tls"
        /// Cleartext LDAP, only when an administrator chose it explicitly.
        case plain
    }

    /// Where the service reaches the DC of a `direct` connection and how it binds.
    package struct LDAPSettings: Sendable, Hashable {
        /// LDAP URLs in failover order.
        package var urls: [String]
        package var baseDN: String
        package var bindDN: String
        package var sealedPassword: String
        package var tlsMode: TLSMode
        /// Trust roots for the DC's certificate; `nil` uses the system's.
        package var caPEM: String?

        package init(
            urls: [String], baseDN: String, bindDN: String, sealedPassword: String, tlsMode: TLSMode, caPEM: String?
        ) {
            self.urls = urls
            self.baseDN = baseDN
            self.bindDN = bindDN
            self.sealedPassword = sealedPassword
            self.tlsMode = tlsMode
            self.caPEM = caPEM
        }

        /// Whether `other` sends the bind password to the same place under the same trust: the same URLs, TLS
        /// mode, CA and bind DN.
        ///
        /// The sealed password is bound to these; a change to any of them needs the password again, or a tenant
        /// admin could point the stored password at a listener of their own.
        package func hasSameDestination(as other: LDAPSettings) -> Bool {
            urls == other.urls && tlsMode == other.tlsMode && caPEM == other.caPEM && bindDN == other.bindDN
        }
    }

    /// How the connection's directory is read (the `mode` column).
    package enum Transport: Sendable, Hashable {
        /// The service reads the DC over LDAP.
        case direct(LDAPSettings)
        /// Connectors at the site read it and upload pages (docs/connector-protocol.md); the ids in the
        /// administrator's order (1–5).
        case connector([ConnectorID])

        /// The `mode` column's value.
        package var mode: String {
            switch self {
            case .direct: "direct"
            case .connector: "connector"
            }
        }
    }

    package var id: DirectoryConnectionID
    package var tenantID: TenantID
    package var name: String
    package var transport: Transport
    package var interval: Duration
    package var deletionThreshold: DeletionThreshold
    package var isEnabled: Bool
    package var version: Int64
    package var createdAt: Date
    package var updatedAt: Date
    /// The connector holding an unexpired lease on a `connector` connection, as read with it (connector_leases);
    /// never written through this type.
    package var activeConnectorID: ConnectorID?

    package init(
        id: DirectoryConnectionID, tenantID: TenantID, name: String, transport: Transport, interval: Duration,
        deletionThreshold: DeletionThreshold = DeletionThreshold(), isEnabled: Bool, version: Int64 = 1,
        createdAt: Date, updatedAt: Date, activeConnectorID: ConnectorID? = nil
    ) {
        self.id = id
        self.tenantID = tenantID
        self.name = name
        self.transport = transport
        self.interval = interval
        self.deletionThreshold = deletionThreshold
        self.isEnabled = isEnabled
        self.version = version
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.activeConnectorID = activeConnectorID
    }

    /// A `direct` connection.
    package init(
        id: DirectoryConnectionID, tenantID: TenantID, name: String, urls: [String], baseDN: String, bindDN: String,
        sealedPassword: String, tlsMode: TLSMode, caPEM: String?, interval: Duration,
        deletionThreshold: DeletionThreshold = DeletionThreshold(), isEnabled: Bool, version: Int64 = 1,
        createdAt: Date, updatedAt: Date
    ) {
        self.init(
            id: id, tenantID: tenantID, name: name,
            transport: .direct(
                LDAPSettings(
                    urls: urls, baseDN: baseDN, bindDN: bindDN, sealedPassword: sealedPassword, tlsMode: tlsMode,
                    caPEM: caPEM
                )
            ),
            interval: interval, deletionThreshold: deletionThreshold, isEnabled: isEnabled, version: version,
            createdAt: createdAt, updatedAt: updatedAt
        )
    }

    /// The LDAP settings of a `direct` connection; `nil` in `connector` mode.
    package var ldap: LDAPSettings? {
        if case .direct(let settings) = transport { settings } else { nil }
    }

    /// The connectors of a `connector` connection, in order; empty in `direct` mode.
    package var connectorIDs: [ConnectorID] {
        if case .connector(let ids) = transport { ids } else { [] }
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
