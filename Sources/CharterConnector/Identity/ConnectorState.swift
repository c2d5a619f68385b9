import CharterBundle
package import Crypto
package import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// What a connector keeps between runs in `state_dir/connector.json` (mode 0600): its id, its Ed25519 key, its
/// token and the service it enrolled with.
///
/// > Warning: It holds the private key and the connector token; never log it.
package struct ConnectorState: Sendable {
    package var connectorID: String
    package var tenantID: String
    /// The service URL the connector enrolled with; another one in the configuration asks for a new enrollment.
    package var serviceURL: String
    package var signingKey: Curve25519.Signing.PrivateKey
    package var connectorToken: String
    package var tokenExpiresAt: Date

    /// The file name inside `state_dir`.
    package static let fileName = "connector.json"

    package init(
        connectorID: String, tenantID: String, serviceURL: String, signingKey: Curve25519.Signing.PrivateKey,
        connectorToken: String, tokenExpiresAt: Date
    ) {
        self.connectorID = connectorID
        self.tenantID = tenantID
        self.serviceURL = serviceURL
        self.signingKey = signingKey
        self.connectorToken = connectorToken
        self.tokenExpiresAt = tokenExpiresAt
    }

    /// The stored form.
    struct Stored: Codable {
        var connectorID: String
        var tenantID: String
        var serviceURL: String
        /// The raw 32-byte Ed25519 private key, unpadded base64url.
        var signingKey: String
        var connectorToken: String
        var tokenExpiresAt: Date

        enum CodingKeys: String, CodingKey {
            case connectorID = "connector_id"
            case tenantID = "tenant_id"
            case serviceURL = "service_url"
            case signingKey = "signing_key"
            case connectorToken = "connector_token"
            case tokenExpiresAt = "token_expires_at"
        }
    }

    /// The state in `directory`, or `nil` when the connector has not enrolled yet.
    ///
    /// - Throws: ``ConnectorError/state(_:)`` when the file exists but cannot be read or decoded.
    package static func load(from directory: String) throws(ConnectorError) -> ConnectorState? {
        let path = directory + "/" + fileName
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        do {
            let decoder = JSONDecoder()
            decoder.dateDecodingStrategy = .iso8601
            let stored = try decoder.decode(Stored.self, from: Data(contentsOf: URL(fileURLWithPath: path)))
            guard let raw = Base64URL.decode(stored.signingKey) else {
                throw ConnectorError.state("\(path): signing_key is not base64url")
            }
            return ConnectorState(
                connectorID: stored.connectorID, tenantID: stored.tenantID, serviceURL: stored.serviceURL,
                signingKey: try Curve25519.Signing.PrivateKey(rawRepresentation: raw),
                connectorToken: stored.connectorToken, tokenExpiresAt: stored.tokenExpiresAt
            )
        } catch let error as ConnectorError {
            throw error
        } catch {
            throw .state("\(path) cannot be read: \(error)")
        }
    }

    /// Writes the state to `directory` (created with mode 0700 when missing) as a new file of mode 0600 that
    /// replaces the old one at once, so a crash leaves either the old or the new state.
    ///
    /// - Throws: ``ConnectorError/state(_:)`` when the directory or file cannot be written.
    package func save(to directory: String) throws(ConnectorError) {
        let stored = Stored(
            connectorID: connectorID, tenantID: tenantID, serviceURL: serviceURL,
            signingKey: Base64URL.encode(signingKey.rawRepresentation), connectorToken: connectorToken,
            tokenExpiresAt: tokenExpiresAt
        )
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        let path = directory + "/" + Self.fileName
        let temporary = path + ".new"
        do {
            try FileManager.default.createDirectory(
                atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700]
            )
            let data = try encoder.encode(stored)
            unlink(temporary)
            let descriptor = open(temporary, O_WRONLY | O_CREAT | O_EXCL, 0o600)
            guard descriptor >= 0 else { throw ConnectorError.state("\(temporary) cannot be created (errno \(errno))") }
            let written = data.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
            let synced = fsync(descriptor)
            close(descriptor)
            guard written == data.count, synced == 0, rename(temporary, path) == 0 else {
                unlink(temporary)
                throw ConnectorError.state("\(path) cannot be written (errno \(errno))")
            }
        } catch let error as ConnectorError {
            throw error
        } catch {
            throw .state("\(path) cannot be written: \(error)")
        }
    }
}
