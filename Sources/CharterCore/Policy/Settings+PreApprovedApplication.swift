package import CharterJSON
package import Foundation

extension Settings {
    /// One entry of `pre_approved_applications`: an application that is allowed without asking, when its
    /// protection holds.
    package struct PreApprovedApplication: Hashable, Sendable {
        /// The most entries one document may list.
        package static let maximumCount = 1000

        /// What the entry's file is.
        package enum Kind: String, Hashable, Sendable, CaseIterable {
            case application
            case installer
        }

        /// What must hold, beyond the file name, for the entry to match (the `protection` object).
        package enum Protection: Hashable, Sendable {
            /// The file name alone (`{"type": "none"}`); anyone can name a file like that.
            case none
            /// The file lies under an absolute location that users cannot write to
            /// (`{"type": "path", "path": "C:\\Program Files\\Vendor"}`), which may start with a folder variable
            /// (`%ProgramFiles%\\Vendor`, see ``KnownFolder``).
            case path(WindowsPath)
            /// The file's SHA-256 equals this lowercase hex digest (`{"type": "checksum", "sha256": "..."}`).
            case checksum(sha256: String)
            /// The file is signed by a certificate matching these fields (`{"type": "certificate", ...}`).
            case certificate(CertificateRequirement)

            /// The `type` discriminator in the document.
            package enum Kind: String, Hashable, Sendable, CaseIterable {
                case none
                case path
                case checksum
                case certificate
            }
        }

        /// The signer a `certificate` protection requires; at least one of subject and vendor is set.
        package struct CertificateRequirement: Hashable, Sendable {
            /// The signer certificate's subject, compared case-insensitively after trimming.
            package var subject: String?
            /// The vendor (publisher) name, compared case-insensitively after trimming.
            package var vendor: String?
            /// The certificate's SHA-1 (40) or SHA-256 (64) thumbprint in lowercase hex, when pinned.
            package var thumbprint: String?

            package init(subject: String? = nil, vendor: String? = nil, thumbprint: String? = nil) {
                self.subject = subject
                self.vendor = vendor
                self.thumbprint = thumbprint
            }
        }

        /// The entry's stable id within its list (`id`): kept as written, or derived when the document gives none
        /// (see ``withIDs(_:)``). Entries built in code may leave it `nil`.
        package var id: UUID?
        /// The file name to match, case-insensitively (`file_name`); only a `certificate` entry may leave it
        /// out, and then matches any file the signer signed.
        package var fileName: String?
        package var kind: Kind
        package var protection: Protection
        /// The request kinds this entry pre-approves (`applies_to`, at least one).
        package var appliesTo: Set<ElevationKind>
        /// Whether allowed runs are written to the audit log (`log_to_audit`, default true).
        package var logsToAudit: Bool

        package init(
            fileName: String?,
            kind: Kind = .application,
            protection: Protection,
            appliesTo: Set<ElevationKind> = [.runAsAdmin],
            logsToAudit: Bool = true,
            id: UUID? = nil
        ) {
            self.id = id
            self.fileName = fileName
            self.kind = kind
            self.protection = protection
            self.appliesTo = appliesTo
            self.logsToAudit = logsToAudit
        }

        /// Decodes one entry strictly, as a settings document's entry is decoded, with problems reported at
        /// pointers under `pointer` (the entry's place in the caller's body).
        ///
        /// - Throws: ``DocumentError`` listing every problem.
        package static func decode(_ value: JSONValue, at pointer: JSONPointer) throws(DocumentError)
            -> PreApprovedApplication
        {
            var reader = DocumentReader()
            if let entry = read(value, at: pointer, reader: &reader), reader.issues.isEmpty { return entry }
            throw DocumentError(issues: reader.issues)
        }

        static func readList(
            _ value: JSONValue,
            at pointer: JSONPointer,
            reader: inout DocumentReader
        ) -> [PreApprovedApplication]? {
            guard let elements = reader.array(value, at: pointer, maxCount: maximumCount) else { return nil }
            let before = reader.issues.count
            let entries = elements.enumerated().compactMap { position, element in
                read(element, at: pointer.appending(position), reader: &reader)
            }
            guard reader.issues.count == before else { return nil }
            var seen: [UUID: Int] = [:]
            for (position, entry) in entries.enumerated() {
                guard let id = entry.id else { continue }
                if let first = seen[id] {
                    reader.report(pointer.appending(position).appending("id"), "repeats the id of entry \(first)")
                } else {
                    seen[id] = position
                }
            }
            return reader.issues.count == before ? withIDs(entries) : nil
        }

        /// `entries` with an id for each: an entry without one gets an id derived from its content and how many
        /// entries with the same content come before it, so the same list read twice gives the same ids.
        ///
        /// A derived id that another entry already has is derived again with the next count, so ids stay
        /// unique within the list.
        package static func withIDs(_ entries: [PreApprovedApplication]) -> [PreApprovedApplication] {
            var used = Set(entries.compactMap(\.id))
            var occurrences: [Data: Int] = [:]
            return entries.map { entry in
                guard entry.id == nil else { return entry }
                let content = entry.json.canonicalData
                var count = occurrences[content, default: 0]
                var id = derivedID(content, count)
                while used.contains(id) {
                    count += 1
                    id = derivedID(content, count)
                }
                occurrences[content] = count + 1
                used.insert(id)
                var identified = entry
                identified.id = id
                return identified
            }
        }

        /// A UUID (version 8, RFC 9562) from two FNV-1a hashes of the entry's canonical content and a count.
        private static func derivedID(_ content: Data, _ count: Int) -> UUID {
            let bytes = Array("charter-pre-approved-v1\n".utf8) + Array(content) + Array("\n\(count)".utf8)
            func fnv1a(_ basis: UInt64) -> UInt64 {
                bytes.reduce(basis) { ($0 ^ UInt64($1)) &* 0x0000_0100_0000_01b3 }
            }
            let high = fnv1a(0xcbf2_9ce4_8422_2325)
            let low = fnv1a(0x6c62_272e_07bb_0142)
            var raw = (0..<8).map { UInt8(truncatingIfNeeded: high >> (56 - 8 * $0)) }
                + (0..<8).map { UInt8(truncatingIfNeeded: low >> (56 - 8 * $0)) }
            raw[6] = (raw[6] & 0x0f) | 0x80
            raw[8] = (raw[8] & 0x3f) | 0x80
            return UUID(
                uuid: (
                    raw[0], raw[1], raw[2], raw[3], raw[4], raw[5], raw[6], raw[7], raw[8], raw[9], raw[10], raw[11],
                    raw[12], raw[13], raw[14], raw[15]
                )
            )
        }

        static func read(
            _ value: JSONValue,
            at pointer: JSONPointer,
            reader: inout DocumentReader
        ) -> PreApprovedApplication? {
            let before = reader.issues.count
            let required = ["kind", "protection", "applies_to"]
            guard
                let members = reader.object(
                    value, at: pointer, allowed: required + ["id", "file_name", "log_to_audit"], required: required)
            else { return nil }
            var id: UUID?
            if let value = members["id"], let text = reader.string(value, at: pointer.appending("id")) {
                if let uuid = UUID(uuidString: text) {
                    id = uuid
                } else {
                    reader.report(
                        pointer.appending("id"), "must be a UUID such as 0b7f7a5e-3c1d-4e0a-9f11-2a4c5d6e7f80"
                    )
                }
            }
            // Only a signer may stand for every file it signed; every other protection is of one named file.
            if members["file_name"] == nil, !Self.isCertificate(members["protection"]) {
                reader.report(
                    pointer.appending("file_name"),
                    "required field is missing (only a certificate protection may leave it out)"
                )
            }
            var fileName: String?
            if let value = members["file_name"] {
                let namePointer = pointer.appending("file_name")
                if let name = reader.nonEmptyString(value, at: namePointer, maxLength: 255) {
                    if name.contains(where: { "\\/:*?\"<>|".contains($0) })
                        || name.unicodeScalars.contains(where: { $0.value < 0x20 })
                    {
                        reader.report(
                            namePointer, "must be a file name without a path, control characters or any of \\ / : * ? \" < > |"
                        )
                    } else {
                        fileName = name
                    }
                }
            }
            let kind = members["kind"].flatMap { reader.enumeration($0, at: pointer.appending("kind"), as: Kind.self) }
            let protection = members["protection"].flatMap {
                readProtection($0, at: pointer.appending("protection"), reader: &reader)
            }
            var appliesTo: Set<ElevationKind>?
            if let value = members["applies_to"] {
                let appliesPointer = pointer.appending("applies_to")
                if let kinds = reader.uniqueArray(
                    value,
                    at: appliesPointer,
                    maxCount: ElevationKind.allCases.count,
                    element: { reader, item, itemPointer in
                        reader.enumeration(item, at: itemPointer, as: ElevationKind.self)
                    }
                ) {
                    if kinds.isEmpty {
                        reader.report(appliesPointer, "must list at least one of run_as_admin, admin_session")
                    } else {
                        appliesTo = Set(kinds)
                    }
                }
            }
            var logsToAudit = true
            if let value = members["log_to_audit"], let flag = reader.bool(value, at: pointer.appending("log_to_audit"))
            {
                logsToAudit = flag
            }
            guard reader.issues.count == before, let kind, let protection, let appliesTo else {
                return nil
            }
            return PreApprovedApplication(
                fileName: fileName,
                kind: kind,
                protection: protection,
                appliesTo: appliesTo,
                logsToAudit: logsToAudit,
                id: id
            )
        }

        /// Whether a raw `protection` value names the `certificate` type.
        private static func isCertificate(_ protection: JSONValue?) -> Bool {
            guard case .object(let members) = protection, case .string(let type) = members["type"] else { return false }
            return type == Protection.Kind.certificate.rawValue
        }

        private static func readProtection(
            _ value: JSONValue,
            at pointer: JSONPointer,
            reader: inout DocumentReader
        ) -> Protection? {
            let allKeys = ["type", "path", "sha256", "subject", "vendor", "thumbprint"]
            guard case .object(let members) = value else {
                _ = reader.object(value, at: pointer, allowed: allKeys)
                return nil
            }
            guard let typeValue = members["type"] else {
                reader.report(pointer.appending("type"), "required field is missing")
                return nil
            }
            guard let type = reader.enumeration(typeValue, at: pointer.appending("type"), as: Protection.Kind.self)
            else {
                return nil
            }
            let before = reader.issues.count
            switch type {
            case .none:
                _ = reader.object(value, at: pointer, allowed: ["type"])
                return reader.issues.count == before ? Protection.none : nil
            case .path:
                _ = reader.object(value, at: pointer, allowed: ["type", "path"], required: ["path"])
                let pathPointer = pointer.appending("path")
                guard let text = members["path"].flatMap({ reader.nonEmptyString($0, at: pathPointer) }) else {
                    return nil
                }
                guard let path = WindowsPath(location: text) else {
                    reader.report(
                        pathPointer,
                        "must be an absolute Windows path such as C:\\Program Files\\Vendor or \\\\server\\share\\dir, "
                            + "or start with %ProgramFiles%, %ProgramFiles(x86)% or %SystemRoot% and stay within it"
                    )
                    return nil
                }
                return reader.issues.count == before ? .path(path) : nil
            case .checksum:
                _ = reader.object(value, at: pointer, allowed: ["type", "sha256"], required: ["sha256"])
                let hashPointer = pointer.appending("sha256")
                guard let text = members["sha256"].flatMap({ reader.string($0, at: hashPointer) }) else { return nil }
                guard let digest = HexDigest.normalized(text, lengths: [64]) else {
                    reader.report(hashPointer, "must be a SHA-256 digest: 64 hexadecimal digits")
                    return nil
                }
                return reader.issues.count == before ? .checksum(sha256: digest) : nil
            case .certificate:
                _ = reader.object(value, at: pointer, allowed: ["type", "subject", "vendor", "thumbprint"])
                var requirement = CertificateRequirement()
                requirement.subject = members["subject"].flatMap {
                    reader.nonEmptyString($0, at: pointer.appending("subject"))
                }
                requirement.vendor = members["vendor"].flatMap {
                    reader.nonEmptyString($0, at: pointer.appending("vendor"))
                }
                if let thumbprintValue = members["thumbprint"] {
                    let thumbprintPointer = pointer.appending("thumbprint")
                    if let text = reader.string(thumbprintValue, at: thumbprintPointer) {
                        if let digest = HexDigest.normalized(text, lengths: [40, 64]) {
                            requirement.thumbprint = digest
                        } else {
                            reader.report(
                                thumbprintPointer,
                                "must be a SHA-1 (40) or SHA-256 (64) thumbprint in hexadecimal digits"
                            )
                        }
                    }
                }
                if members["subject"] == nil, members["vendor"] == nil {
                    reader.report(pointer, "a certificate protection needs a subject, a vendor or both")
                }
                return reader.issues.count == before ? .certificate(requirement) : nil
            }
        }

        /// The entry as a settings document writes it (`id` only when it has one).
        package var json: JSONValue {
            let protectionJSON: [String: JSONValue] =
                switch protection {
                case .none:
                    ["type": .string("none")]
                case .path(let path):
                    ["type": .string("path"), "path": .string(path.description)]
                case .checksum(let sha256):
                    ["type": .string("checksum"), "sha256": .string(sha256)]
                case .certificate(let requirement):
                    ["type": .string("certificate")].merging(
                        [
                            "subject": requirement.subject.map(JSONValue.string),
                            "vendor": requirement.vendor.map(JSONValue.string),
                            "thumbprint": requirement.thumbprint.map(JSONValue.string),
                        ].compactMapValues { $0 },
                        uniquingKeysWith: { first, _ in first }
                    )
                }
            var members: [String: JSONValue] = [
                "kind": .string(kind.rawValue),
                "protection": .object(protectionJSON),
                "applies_to": .array(appliesTo.sorted().map { .string($0.rawValue) }),
                "log_to_audit": .bool(logsToAudit),
            ]
            members["file_name"] = fileName.map(JSONValue.string)
            members["id"] = id.map { .string($0.uuidString.lowercased()) }
            return .object(members)
        }
    }
}
