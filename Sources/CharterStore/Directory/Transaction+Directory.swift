package import CharterCore

extension Transaction {
    /// The tenant's directory connections.
    package func directoryConnections(of tenant: TenantID) -> DirectoryConnectionRepository {
        DirectoryConnectionRepository(tx: self, tenantID: tenant)
    }

    /// The tenant's synced directory: objects, memberships, watermarks.
    package func directory(of tenant: TenantID) -> DirectoryRepository {
        DirectoryRepository(tx: self, tenantID: tenant)
    }

    /// The write side of one sync of one of the tenant's directory connections.
    package func directoryStaging(of tenant: TenantID, connection: DirectoryConnectionID) -> DirectoryStaging {
        DirectoryStaging(tx: self, tenantID: tenant, connectionID: connection)
    }

    /// The tenant's sync history.
    package func syncRuns(of tenant: TenantID) -> SyncRunRepository {
        SyncRunRepository(tx: self, tenantID: tenant)
    }

    /// The scheduler's job rows and leases.
    package var directorySyncJobs: DirectorySyncJobRepository {
        DirectorySyncJobRepository(tx: self)
    }
}
