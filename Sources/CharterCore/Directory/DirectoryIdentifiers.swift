package enum DirectoryConnectionTag {}
package enum SyncRunTag {}

/// A tenant's connection to one Active Directory domain (or the part under a base DN).
package typealias DirectoryConnectionID = Identifier<DirectoryConnectionTag>
/// One recorded directory sync run.
package typealias SyncRunID = Identifier<SyncRunTag>
