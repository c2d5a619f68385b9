/// The kinds of Active Directory object that policy resolution knows about.
package enum DirectoryObjectKind: String, Hashable, Sendable, CaseIterable {
    case user
    case computer
    case group
    case organizationalUnit = "ou"
}
