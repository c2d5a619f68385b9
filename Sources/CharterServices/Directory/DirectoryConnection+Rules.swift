package import CharterCore
import CharterDirectory
package import CharterStore
import Foundation

/// How an administrator asks for a connection to be read: `direct` (the default) or `connector`.
package enum DirectoryConnectionMode: String, Sendable, Hashable, CaseIterable {
    case direct
    case connector
}

/// A new connection as an administrator describes it, before ``DirectoryService`` checks it and seals the
/// password.
///
/// The LDAP values are required in `direct` mode and refused in `connector` mode, which names its connectors
/// instead; the service checks which.
package struct DirectoryConnectionDraft: Sendable {
    package var name: String
    package var mode: DirectoryConnectionMode
    package var urls: [String]?
    package var baseDN: String?
    package var bindDN: String?
    package var bindPassword: String?
    package var tlsMode: DirectoryConnection.TLSMode?
    package var caPEM: String?
    package var connectorIDs: [String]?
    package var intervalSeconds: Int
    package var deletionThresholdObjects: Int
    package var deletionThresholdPercent: Int
    package var isEnabled: Bool

    package init(
        name: String, mode: DirectoryConnectionMode? = nil, urls: [String]?, baseDN: String?, bindDN: String?,
        bindPassword: String?, tlsMode: DirectoryConnection.TLSMode?, caPEM: String?, connectorIDs: [String]? = nil,
        intervalSeconds: Int?, deletionThresholdObjects: Int?, deletionThresholdPercent: Int?, isEnabled: Bool?
    ) {
        self.name = name
        self.mode = mode ?? .direct
        self.urls = urls
        self.baseDN = baseDN
        self.bindDN = bindDN
        self.bindPassword = bindPassword
        self.tlsMode = tlsMode
        self.caPEM = caPEM
        self.connectorIDs = connectorIDs
        self.intervalSeconds = intervalSeconds ?? 3600
        self.deletionThresholdObjects = deletionThresholdObjects ?? 500
        self.deletionThresholdPercent = deletionThresholdPercent ?? 10
        self.isEnabled = isEnabled ?? true
    }

    /// The draft's LDAP settings, checked, with the password sealed by `seal`, for `direct` mode.
    ///
    /// - Throws: ``DirectoryError/invalid(_:field:)`` for a missing or malformed value, or for `connector_ids`.
    func ldapSettings(
        seal: (String) throws -> String
    ) throws -> DirectoryConnection.LDAPSettings {
        typealias Rules = DirectoryConnection.Rules
        if connectorIDs != nil {
            throw DirectoryError.invalid("connector_ids is only for mode connector.", field: "/connector_ids")
        }
        let tlsMode = try Rules.required(tlsMode, field: "/tls_mode")
        return DirectoryConnection.LDAPSettings(
            urls: try Rules.urls(try Rules.required(urls, field: "/urls"), tlsMode: tlsMode),
            baseDN: try Rules.dn(try Rules.required(baseDN, field: "/base_dn"), field: "/base_dn"),
            bindDN: try Rules.dn(try Rules.required(bindDN, field: "/bind_dn"), field: "/bind_dn"),
            sealedPassword: try seal(try Rules.password(try Rules.required(bindPassword, field: "/bind_password"))),
            tlsMode: tlsMode, caPEM: try Rules.caPEM(caPEM)
        )
    }

    /// The draft's connector ids, for `connector` mode (their existence is checked against the store).
    ///
    /// - Throws: ``DirectoryError/invalid(_:field:)`` for an LDAP value, or for missing or malformed ids.
    func connectorIDsForConnectorMode() throws(DirectoryError) -> [ConnectorID] {
        try DirectoryConnection.Rules.refuseLDAP(
            urls: urls, baseDN: baseDN, bindDN: bindDN, bindPassword: bindPassword, tlsMode: tlsMode, caPEM: caPEM
        )
        return try DirectoryConnection.Rules.connectorIDs(connectorIDs)
    }
}

/// A partial change of a connection: `nil` keeps the stored value.
package struct DirectoryConnectionPatch: Sendable {
    package var name: String?
    /// A change of mode: to `connector` with `connectorIDs` (the LDAP settings and password are dropped), to
    /// `direct` with every LDAP value and the password.
    package var mode: DirectoryConnectionMode?
    package var urls: [String]?
    package var baseDN: String?
    package var bindDN: String?
    package var bindPassword: String?
    package var tlsMode: DirectoryConnection.TLSMode?
    package var caPEM: String?
    package var connectorIDs: [String]?
    package var intervalSeconds: Int?
    package var deletionThresholdObjects: Int?
    package var deletionThresholdPercent: Int?
    package var isEnabled: Bool?

    package init(
        name: String? = nil, mode: DirectoryConnectionMode? = nil, urls: [String]? = nil, baseDN: String? = nil,
        bindDN: String? = nil, bindPassword: String? = nil, tlsMode: DirectoryConnection.TLSMode? = nil,
        caPEM: String? = nil, connectorIDs: [String]? = nil, intervalSeconds: Int? = nil,
        deletionThresholdObjects: Int? = nil, deletionThresholdPercent: Int? = nil, isEnabled: Bool? = nil
    ) {
        self.name = name
        self.mode = mode
        self.urls = urls
        self.baseDN = baseDN
        self.bindDN = bindDN
        self.bindPassword = bindPassword
        self.tlsMode = tlsMode
        self.caPEM = caPEM
        self.connectorIDs = connectorIDs
        self.intervalSeconds = intervalSeconds
        self.deletionThresholdObjects = deletionThresholdObjects
        self.deletionThresholdPercent = deletionThresholdPercent
        self.isEnabled = isEnabled
    }

    /// Applies the patch to `before`, checking every value it sets (connector ids only in form: the service
    /// checks them against the store).
    ///
    /// - Parameter sealed: the new bind password, already sealed, if the patch gives one.
    /// - Throws: ``DirectoryError/invalid(_:field:)`` for a value that breaks a rule, for an LDAP value in
    ///   `connector` mode or `connector_ids` in `direct` mode, and when the change moves where the password goes
    ///   (URLs, TLS mode, CA, bind DN) without giving the password again: the stored one is only ever sent where
    ///   it was given for.
    func applied(to before: DirectoryConnection, sealed: String?) throws(DirectoryError) -> DirectoryConnection {
        typealias Rules = DirectoryConnection.Rules
        var changed = before
        if let name { changed.name = try Rules.name(name) }
        let targetMode = mode ?? (before.ldap == nil ? .connector : .direct)
        switch (before.transport, targetMode) {
        case (.direct(let settings), .direct):
            if connectorIDs != nil {
                throw .invalid("connector_ids is only for mode connector.", field: "/connector_ids")
            }
            changed.transport = .direct(try appliedLDAP(to: settings, sealed: sealed))
        case (_, .connector):
            try Rules.refuseLDAP(
                urls: urls, baseDN: baseDN, bindDN: bindDN, bindPassword: bindPassword, tlsMode: tlsMode, caPEM: caPEM
            )
            if before.ldap != nil, connectorIDs == nil {
                throw .invalid("Changing to mode connector needs connector_ids.", field: "/connector_ids")
            }
            changed.transport = .connector(
                try connectorIDs.map { raw throws(DirectoryError) in try Rules.connectorIDs(raw) } ?? before.connectorIDs
            )
        case (.connector, .direct):
            if connectorIDs != nil {
                throw .invalid("connector_ids is only for mode connector.", field: "/connector_ids")
            }
            let tlsMode = try Rules.required(tlsMode, field: "/tls_mode")
            guard let sealed else {
                throw .invalid("Changing to mode direct needs bind_password.", field: "/bind_password")
            }
            changed.transport = .direct(
                DirectoryConnection.LDAPSettings(
                    urls: try Rules.urls(try Rules.required(urls, field: "/urls"), tlsMode: tlsMode),
                    baseDN: try Rules.dn(try Rules.required(baseDN, field: "/base_dn"), field: "/base_dn"),
                    bindDN: try Rules.dn(try Rules.required(bindDN, field: "/bind_dn"), field: "/bind_dn"),
                    sealedPassword: sealed, tlsMode: tlsMode, caPEM: try Rules.caPEM(caPEM)
                )
            )
        }
        if let intervalSeconds { changed.interval = .seconds(try Rules.interval(intervalSeconds)) }
        changed.deletionThreshold = try Rules.threshold(
            objects: deletionThresholdObjects ?? before.deletionThreshold.objects,
            percent: deletionThresholdPercent ?? before.deletionThreshold.percent
        )
        if let isEnabled { changed.isEnabled = isEnabled }
        return changed
    }

    /// The patch applied to the LDAP settings of a connection that stays `direct`.
    private func appliedLDAP(
        to before: DirectoryConnection.LDAPSettings, sealed: String?
    ) throws(DirectoryError) -> DirectoryConnection.LDAPSettings {
        typealias Rules = DirectoryConnection.Rules
        var changed = before
        if let tlsMode { changed.tlsMode = tlsMode }
        if urls != nil || tlsMode != nil { changed.urls = try Rules.urls(urls ?? before.urls, tlsMode: changed.tlsMode) }
        if let baseDN { changed.baseDN = try Rules.dn(baseDN, field: "/base_dn") }
        if let bindDN { changed.bindDN = try Rules.dn(bindDN, field: "/bind_dn") }
        if let sealed { changed.sealedPassword = sealed }
        if let caPEM { changed.caPEM = try Rules.caPEM(caPEM) }
        guard sealed != nil || changed.hasSameDestination(as: before) else {
            throw .invalid(
                "Changing urls, tls_mode, ca_pem or bind_dn needs bind_password in the same request: the stored "
                    + "password is only ever sent where it was given for.",
                field: "/bind_password"
            )
        }
        return changed
    }
}

extension DirectoryConnection {
    /// The rules a connection's values follow, each failing with the JSON pointer of the value.
    enum Rules {
        static func name(_ raw: String) throws(DirectoryError) -> String {
            guard let name = DisplayName.validated(raw) else {
                throw .invalid(
                    "A name must have 1 to \(DisplayName.maximumLength) characters and no control characters.",
                    field: "/name"
                )
            }
            return name
        }

        /// 1–10 URLs whose scheme fits the TLS mode: `ldaps://` for `ldaps`, `ldap://` otherwise.
        static func urls(_ urls: [String], tlsMode: TLSMode) throws(DirectoryError) -> [String] {
            guard (1...10).contains(urls.count) else {
                throw .invalid("Give 1 to 10 LDAP URLs, in failover order.", field: "/urls")
            }
            let scheme = tlsMode == .ldaps ? "ldaps://" : "ldap://"
            for (index, url) in urls.enumerated() {
                guard url.lowercased().hasPrefix(scheme), url.count > scheme.count, url.count <= 500 else {
                    throw .invalid(
                        "With tls_mode '\(tlsMode.rawValue)' every URL must start with \(scheme).", field: "/urls/\(index)"
                    )
                }
            }
            return urls
        }

        static func dn(_ raw: String, field: String) throws(DirectoryError) -> String {
            let dn = raw.trimmingCharacters(in: .whitespaces)
            guard !dn.isEmpty, dn.count <= 2000, (try? DistinguishedName(dn)) != nil else {
                throw .invalid("Give a distinguished name such as DC=example,DC=com (RFC 4514).", field: field)
            }
            return dn
        }

        static func caPEM(_ raw: String?) throws(DirectoryError) -> String? {
            guard let raw, !raw.isEmpty else { return nil }
            guard raw.contains("-----BEGIN CERTIFICATE-----"), raw.count <= 100_000 else {
                throw .invalid("ca_pem must hold PEM certificates (-----BEGIN CERTIFICATE-----).", field: "/ca_pem")
            }
            return raw
        }

        static func interval(_ seconds: Int) throws(DirectoryError) -> Int64 {
            guard (60...604_800).contains(seconds) else {
                throw .invalid("interval_seconds must be from 60 to 604800.", field: "/interval_seconds")
            }
            return Int64(seconds)
        }

        static func threshold(objects: Int, percent: Int) throws(DirectoryError) -> DeletionThreshold {
            guard (0...10_000_000).contains(objects) else {
                throw .invalid(
                    "deletion_threshold_objects must be from 0 to 10000000.", field: "/deletion_threshold_objects"
                )
            }
            guard (0...100).contains(percent) else {
                throw .invalid("deletion_threshold_percent must be from 0 to 100.", field: "/deletion_threshold_percent")
            }
            return DeletionThreshold(objects: objects, percent: percent)
        }

        /// A value `direct` mode needs.
        static func required<Value>(_ value: Value?, field: String) throws(DirectoryError) -> Value {
            guard let value else {
                throw .invalid("A connection in mode direct needs \(field.dropFirst()).", field: field)
            }
            return value
        }

        /// Refuses the LDAP values a `connector` connection does not have: the site keeps them.
        static func refuseLDAP(
            urls: [String]?, baseDN: String?, bindDN: String?, bindPassword: String?, tlsMode: TLSMode?,
            caPEM: String?
        ) throws(DirectoryError) {
            let given: [(Bool, String)] = [
                (urls != nil, "/urls"), (baseDN != nil, "/base_dn"), (bindDN != nil, "/bind_dn"),
                (bindPassword != nil, "/bind_password"), (tlsMode != nil, "/tls_mode"), (caPEM != nil, "/ca_pem"),
            ]
            if let field = given.first(where: \.0)?.1 {
                throw .invalid(
                    "A connection in mode connector has no \(field.dropFirst()): the connector's configuration at the "
                        + "site holds the DC's address and the bind password.",
                    field: field
                )
            }
        }

        /// 1–5 distinct connector ids (whether they are the tenant's and not revoked is checked against the
        /// store).
        static func connectorIDs(_ raw: [String]?) throws(DirectoryError) -> [ConnectorID] {
            guard let raw, (1...5).contains(raw.count) else {
                throw .invalid("A connection in mode connector names 1 to 5 connectors.", field: "/connector_ids")
            }
            var ids: [ConnectorID] = []
            for (index, text) in raw.enumerated() {
                guard let id = ConnectorID(text) else {
                    throw .invalid("A connector id is a UUID.", field: "/connector_ids/\(index)")
                }
                guard !ids.contains(id) else {
                    throw .invalid("A connector is named twice.", field: "/connector_ids/\(index)")
                }
                ids.append(id)
            }
            return ids
        }

        static func password(_ password: String) throws(DirectoryError) -> String {
            guard (1...1024).contains(password.unicodeScalars.count) else {
                throw .invalid("bind_password must have 1 to 1024 characters.", field: "/bind_password")
            }
            return password
        }
    }

    /// What the audit log keeps of a connection: everything but the password.
    var auditSnapshot: String {
        var snapshot: [String: any Sendable] = [
            "id": id.description, "name": name, "mode": transport.mode,
            "interval_seconds": Int(interval.components.seconds),
            "deletion_threshold_objects": deletionThreshold.objects,
            "deletion_threshold_percent": deletionThreshold.percent, "enabled": isEnabled, "version": version,
        ]
        switch transport {
        case .direct(let ldap):
            snapshot["urls"] = ldap.urls
            snapshot["base_dn"] = ldap.baseDN
            snapshot["bind_dn"] = ldap.bindDN
            snapshot["tls_mode"] = ldap.tlsMode.rawValue
            snapshot["has_ca_pem"] = ldap.caPEM != nil
        case .connector(let ids):
            snapshot["connector_ids"] = ids.map(\.description)
        }
        return AuditJSON.encode(snapshot)
    }
}
