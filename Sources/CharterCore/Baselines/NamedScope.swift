import CharterJSON
import Foundation

/// The scope of a baseline subsetting: groups and OUs named the way they read in every customer's domain,
/// resolved per tenant against its synced directory (``ScopeDirectory``).
///
/// A tenant subsetting lists objectGUIDs, which survive renames but differ in every domain; a baseline is
/// shared by many domains, so it names objects instead. The document form is
/// `{"groups": ["Helpdesk", "S-1-5-32-544", "-512"], "ous": ["OU=Workstations,OU=Corp"]}`; see docs/baselines.md.
package struct NamedScope: Hashable, Sendable {
    /// One entry of `groups`.
    package struct GroupReference: Hashable, Sendable, CustomStringConvertible {
        /// How an entry finds its groups.
        package enum Kind: Hashable, Sendable {
            /// A `sAMAccountName` or `cn`, compared case-insensitively (stored lowercased).
            case name(String)
            /// A whole SID such as `S-1-5-32-544` (BUILTIN\Administrators), stored with an upper-case `S`.
            case sid(String)
            /// A relative identifier such as `-512`: the group whose SID is any of the tenant's domain SIDs
            /// (`S-1-5-21-a-b-c`) followed by it (512 Domain Admins, 513 Domain Users, 515 Domain Computers).
            case relativeID(UInt32)
        }

        /// The entry as written (trimmed), for reports.
        package let text: String
        package let kind: Kind

        package init(text: String, kind: Kind) {
            self.text = text
            self.kind = kind
        }

        /// Parses one entry; a failure saying what is wrong with a malformed SID or relative identifier.
        package static func parse(_ text: String) -> Result<GroupReference, NamedScopeError> {
            let trimmed = text.trimmingCharacters(in: .whitespaces)
            if trimmed.hasPrefix("-") {
                let digits = trimmed.dropFirst()
                guard !digits.isEmpty, digits.count <= 10, digits.allSatisfy(\.isDecimalDigit),
                    let rid = UInt32(digits)
                else { return .failure(.malformed("a relative identifier is a minus sign and a number, such as -512")) }
                return .success(GroupReference(text: trimmed, kind: .relativeID(rid)))
            }
            if trimmed.uppercased().hasPrefix("S-1-") {
                let parts = trimmed.dropFirst(2).split(separator: "-", omittingEmptySubsequences: false)
                guard parts.count >= 3, parts.count <= 16,
                    parts.allSatisfy({ !$0.isEmpty && $0.count <= 10 && $0.allSatisfy(\.isDecimalDigit) })
                else { return .failure(.malformed("must be a SID such as S-1-5-32-544")) }
                return .success(GroupReference(text: trimmed, kind: .sid("S-" + parts.joined(separator: "-"))))
            }
            guard !trimmed.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7f }) else {
                return .failure(.malformed("must not contain control characters"))
            }
            return .success(GroupReference(text: trimmed, kind: .name(trimmed.lowercased())))
        }

        package var description: String { text }

        package static func == (lhs: GroupReference, rhs: GroupReference) -> Bool { lhs.kind == rhs.kind }
        package func hash(into hasher: inout Hasher) { hasher.combine(kind) }
    }

    /// One entry of `ous`: the OU's distinguished name without the domain part, nearest OU first
    /// (`OU=Finance,OU=Staff` is the OU Finance inside the top-level OU Staff of every domain of the tenant).
    package struct OUPath: Hashable, Sendable, CustomStringConvertible {
        /// The entry as written (trimmed), for reports.
        package let text: String
        /// The normalised form: `ou=<value>` components, lowercased, joined by commas without spaces.
        package let normalized: String

        /// Parses one entry: one or more `OU=<name>` components separated by commas (`\,` escapes a comma).
        package static func parse(_ text: String) -> Result<OUPath, NamedScopeError> {
            let trimmed = text.trimmingCharacters(in: .whitespaces)
            let components = DistinguishedNameText.components(of: trimmed)
            guard !components.isEmpty else {
                return .failure(.malformed("must be an OU path such as OU=Workstations,OU=Corp"))
            }
            for component in components {
                guard component.hasPrefix("ou="), component.count > 3 else {
                    return .failure(
                        .malformed("every component must be OU=<name>, without the domain's DC= part: OU=Workstations,OU=Corp")
                    )
                }
            }
            return .success(OUPath(text: trimmed, normalized: components.joined(separator: ",")))
        }

        package var description: String { text }

        package static func == (lhs: OUPath, rhs: OUPath) -> Bool { lhs.normalized == rhs.normalized }
        package func hash(into hasher: inout Hasher) { hasher.combine(normalized) }
    }

    package var groups: [GroupReference]
    package var organizationalUnits: [OUPath]

    package init(groups: [GroupReference] = [], organizationalUnits: [OUPath] = []) {
        self.groups = groups
        self.organizationalUnits = organizationalUnits
    }

    var json: JSONValue {
        .object([
            "groups": .array(groups.map { .string($0.text) }),
            "ous": .array(organizationalUnits.map { .string($0.text) }),
        ])
    }

    static func read(_ value: JSONValue, at pointer: JSONPointer, reader: inout DocumentReader) -> NamedScope? {
        let before = reader.issues.count
        guard let members = reader.object(value, at: pointer, allowed: ["groups", "ous"]) else { return nil }
        func entries<Entry: Hashable>(
            _ key: String, reader: inout DocumentReader, parse: (String) -> Result<Entry, NamedScopeError>
        ) -> [Entry] {
            guard let value = members[key] else { return [] }
            return reader.uniqueArray(
                value, at: pointer.appending(key), maxCount: Subsetting.maximumScopeSize,
                element: { reader, item, itemPointer in
                    guard let text = reader.nonEmptyString(item, at: itemPointer, maxLength: 2000) else { return nil }
                    switch parse(text) {
                    case .success(let entry): return entry
                    case .failure(.malformed(let message)):
                        reader.report(itemPointer, message)
                        return nil
                    }
                }
            ) ?? []
        }
        let scope = NamedScope(
            groups: entries("groups", reader: &reader, parse: GroupReference.parse),
            organizationalUnits: entries("ous", reader: &reader, parse: OUPath.parse)
        )
        guard reader.issues.count == before else { return nil }
        guard !scope.groups.isEmpty || !scope.organizationalUnits.isEmpty else {
            reader.report(pointer, "must name at least one group or OU")
            return nil
        }
        guard scope.groups.count + scope.organizationalUnits.count <= Subsetting.maximumScopeSize else {
            reader.report(pointer, "must name at most \(Subsetting.maximumScopeSize) groups and OUs together")
            return nil
        }
        return scope
    }
}

/// Why a scope entry could not be read.
package enum NamedScopeError: Error, Hashable, Sendable {
    case malformed(String)
}

/// The distinguished-name text rules baselines need: components split at unescaped commas, each
/// `attribute=value` with the attribute and value trimmed and the whole lowercased.
package enum DistinguishedNameText {
    /// The normalised components of `dn`, nearest first; empty for an empty text or an empty component.
    package static func components(of dn: String) -> [String] {
        var components: [String] = []
        var current = ""
        var escaped = false
        for character in dn {
            if escaped {
                current.append(character)
                escaped = false
            } else if character == "\\" {
                current.append(character)
                escaped = true
            } else if character == "," {
                components.append(current)
                current = ""
            } else {
                current.append(character)
            }
        }
        components.append(current)
        var result: [String] = []
        for component in components {
            guard let equals = component.firstIndex(of: "=") else { return [] }
            let attribute = component[..<equals].trimmingCharacters(in: .whitespaces).lowercased()
            let value = component[component.index(after: equals)...].trimmingCharacters(in: .whitespaces).lowercased()
            guard !attribute.isEmpty, !value.isEmpty else { return [] }
            result.append("\(attribute)=\(value)")
        }
        return result
    }

    /// `dn` normalised as one string (components joined by commas).
    package static func normalized(_ dn: String) -> String {
        components(of: dn).joined(separator: ",")
    }
}

extension Character {
    /// Whether this is one of the ASCII digits 0–9.
    fileprivate var isDecimalDigit: Bool { isASCII && isNumber }
}
