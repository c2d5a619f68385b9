/// An endpoint user's request to elevate, as the agent submits it.
package struct ElevationRequest: Hashable, Sendable {
    /// The application the user wants to run elevated, as the agent saw it on disk.
    package struct Application: Hashable, Sendable {
        /// The file name, e.g. `setup.exe`.
        package var fileName: String
        /// The full Windows path of the file, when known.
        package var path: String?
        /// The file's SHA-256 digest in hexadecimal, when computed.
        package var sha256: String?
        /// The subject of the certificate that signed the file, when signed.
        package var signerSubject: String?
        /// The signing certificate's SHA-1 or SHA-256 thumbprint in hexadecimal, when signed.
        package var certificateThumbprint: String?
        /// The vendor (publisher) the signature names, when signed.
        package var vendor: String?

        package init(
            fileName: String,
            path: String? = nil,
            sha256: String? = nil,
            signerSubject: String? = nil,
            certificateThumbprint: String? = nil,
            vendor: String? = nil
        ) {
            self.fileName = fileName
            self.path = path
            self.sha256 = sha256
            self.signerSubject = signerSubject
            self.certificateThumbprint = certificateThumbprint
            self.vendor = vendor
        }
    }

    package var kind: ElevationKind
    /// The user asking, when the tenant's synced directory knows them (otherwise the computer's policy
    /// applies, as for any unknown user).
    package var user: ObjectGUID?
    /// The application to run elevated; usually absent for an admin session.
    package var application: Application?
    /// The user's justification, when given.
    package var reason: String?

    package init(kind: ElevationKind, user: ObjectGUID?, application: Application? = nil, reason: String? = nil) {
        self.kind = kind
        self.user = user
        self.application = application
        self.reason = reason
    }
}
