/// What a synced Active Directory object is: the domain root, an OU, a group, a user or a computer.
///
/// The one model of an object's kind: the reader sets it from `objectClass`, the store keeps its raw value
/// in `directory_objects.kind` and in a sync run's counts, the API sends that value as `DirectoryObject.kind`,
/// and policy checks the kinds a subsetting's scope names. The raw values are stored, so they never change.
package enum DirectoryObjectKind: String, Hashable, Sendable, CaseIterable {
    /// The domain's root (`domainDNS`), the top container; a scope may list it as an OU.
    case domain
    case organizationalUnit = "ou"
    case group
    case user
    case computer
}
