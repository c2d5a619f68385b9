import Foundation

extension Settings.PreApprovedApplication {
    /// Whether `application`, requested as `kind`, is this entry with its protection holding.
    ///
    /// The entry must cover `kind`, and the file names must be equal ignoring case (a `certificate` entry without
    /// a file name skips this: it stands for every file its signer signed). Then:
    /// - `none`: nothing more;
    /// - `path`: the application's path parses as an absolute path and lies under the entry's location
    ///   (see ``WindowsPath/isLocated(under:)``; a location written with a folder variable is compared in its
    ///   expanded form, ``KnownFolder/path``);
    /// - `checksum`: the application's SHA-256 equals the entry's, ignoring case;
    /// - `certificate`: every field the entry sets (subject, vendor, thumbprint) is present on the
    ///   application and equal, ignoring case and surrounding whitespace (and separators in thumbprints).
    ///
    /// The entry's ``kind`` (application or installer) describes the file for administrators; it is not
    /// matched, since agents do not classify files.
    package func matches(_ application: ElevationRequest.Application, as kind: ElevationKind) -> Bool {
        guard appliesTo.contains(kind) else { return false }
        if let fileName {
            guard Self.folded(application.fileName) == Self.folded(fileName) else { return false }
        } else {
            // Only a signer may stand for any file; validation refuses other entries without a name.
            guard case .certificate = protection else { return false }
        }
        switch protection {
        case .none:
            return true
        case .path(let location):
            guard let text = application.path, let path = WindowsPath(text) else { return false }
            return path.isLocated(under: location)
        case .checksum(let sha256):
            guard let digest = application.sha256.flatMap({ HexDigest.normalized($0, lengths: [64]) }) else {
                return false
            }
            return digest == sha256
        case .certificate(let requirement):
            if let subject = requirement.subject, Self.folded(application.signerSubject) != Self.folded(subject) {
                return false
            }
            if let vendor = requirement.vendor, Self.folded(application.vendor) != Self.folded(vendor) {
                return false
            }
            if let thumbprint = requirement.thumbprint {
                let given = application.certificateThumbprint.flatMap {
                    HexDigest.normalized($0, lengths: [thumbprint.count])
                }
                return given == thumbprint
            }
            return true
        }
    }

    /// `text` trimmed and case-folded for comparison; `nil` stays `nil`.
    private static func folded(_ text: String?) -> String? {
        text.map { $0.trimmingCharacters(in: .whitespacesAndNewlines).lowercased() }
    }
}
