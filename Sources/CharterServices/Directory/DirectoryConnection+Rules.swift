import CharterCore
import CharterDirectory
package import CharterStore
import Foundation

/// A new connection as an administrator describes it, before ``DirectoryService`` checks it and seals the
/// password.
package struct DirectoryConnectionDraft: Sendable {
    package var name: String
    package var urls: [String]
    package var baseDN: String
    package var bindDN: String
    package var bindPassword: String
    package var tlsMode: DirectoryConnection.TLSMode
    package var caPEM: String?
    package var intervalSeconds: Int
    package var deletionThresholdObjects: Int
    package var deletionThresholdPercent: Int
    package var isEnabled: Bool

    package init(
        name: String, urls: [String], baseDN: String, bindDN: String, bindPassword: String,
        tlsMode: DirectoryConnection.TLSMode, caPEM: String?, intervalSeconds: Int?, deletionThresholdObjects: Int?,
        deletionThresholdPercent: Int?, isEnabled: Bool?
    ) {
        self.name = name
        self.urls = urls
        self.baseDN = baseDN
        self.bindDN = bindDN
        self.bindPassword = bindPassword
        self.tlsMode = tlsMode
        self.caPEM = caPEM
        self.intervalSeconds = intervalSeconds ?? 3600
        self.deletionThresholdObjects = deletionThresholdObjects ?? 500
        self.deletionThresholdPercent = deletionThresholdPercent ?? 10
        self.isEnabled = isEnabled ?? true
    }
}

/// A partial change of a connection: `nil` keeps the stored value.
package struct DirectoryConnectionPatch: Sendable {
    package var name: String?
    package var urls: [String]?
    package var baseDN: String?
    package var bindDN: String?
    package var bindPassword: String?
    package var tlsMode: DirectoryConnection.TLSMode?
    package var caPEM: String?
    package var intervalSeconds: Int?
    package var deletionThresholdObjects: Int?
    package var deletionThresholdPercent: Int?
    package var isEnabled: Bool?

    package init(
        name: String? = nil, urls: [String]? = nil, baseDN: String? = nil, bindDN: String? = nil,
        bindPassword: String? = nil, tlsMode: DirectoryConnection.TLSMode? = nil, caPEM: String? = nil,
        intervalSeconds: Int? = nil, deletionThresholdObjects: Int? = nil, deletionThresholdPercent: Int? = nil,
        isEnabled: Bool? = nil
    ) {
        self.name = name
        self.urls = urls
        self.baseDN = baseDN
        self.bindDN = bindDN
        self.bindPassword = bindPassword
        self.tlsMode = tlsMode
        self.caPEM = caPEM
        self.intervalSeconds = intervalSeconds
        self.deletionThresholdObjects = deletionThresholdObjects
        self.deletionThresholdPercent = deletionThresholdPercent
        self.isEnabled = isEnabled
    }

    /// Applies the patch to `before`, checking every value it sets.
    ///
    /// - Parameter sealed: the new bind password, already sealed, if the patch gives one.
    /// - Throws: ``DirectoryError/invalid(_:field:)`` for a value that breaks a rule, and when the change moves
    ///   where the password goes (URLs, TLS mode, CA, bind DN) without giving the password again: the stored one
    ///   is only ever sent where it was given for.
    func applied(to before: DirectoryConnection, sealed: String?) throws(DirectoryError) -> DirectoryConnection {
        typealias Rules = DirectoryConnection.Rules
        var changed = before
        if let name { changed.name = try Rules.name(name) }
        if let tlsMode { changed.tlsMode = tlsMode }
        if urls != nil || tlsMode != nil { changed.urls = try Rules.urls(urls ?? before.urls, tlsMode: changed.tlsMode) }
        if let baseDN { changed.baseDN = try Rules.dn(baseDN, field: "/base_dn") }
        if let bindDN { changed.bindDN = try Rules.dn(bindDN, field: "/bind_dn") }
        if let sealed { changed.sealedPassword = sealed }
        if let caPEM { changed.caPEM = try Rules.caPEM(caPEM) }
        if let intervalSeconds { changed.interval = .seconds(try Rules.interval(intervalSeconds)) }
        changed.deletionThreshold = try Rules.threshold(
            objects: deletionThresholdObjects ?? before.deletionThreshold.objects,
            percent: deletionThresholdPercent ?? before.deletionThreshold.percent
        )
        if let isEnabled { changed.isEnabled = isEnabled }
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

        static func password(_ password: String) throws(DirectoryError) -> String {
            guard (1...1024).contains(password.unicodeScalars.count) else {
                throw .invalid("bind_password must have 1 to 1024 characters.", field: "/bind_password")
            }
            return password
        }
    }

    /// What the audit log keeps of a connection: everything but the password.
    var auditSnapshot: String {
        AuditJSON.encode([
            "id": id.description, "name": name, "urls": urls, "base_dn": baseDN, "bind_dn": bindDN,
            "tls_mode": tlsMode.rawValue, "has_ca_pem": caPEM != nil,
            "interval_seconds": Int(interval.components.seconds),
            "deletion_threshold_objects": deletionThreshold.objects,
            "deletion_threshold_percent": deletionThreshold.percent, "enabled": isEnabled, "version": version,
        ])
    }
}
