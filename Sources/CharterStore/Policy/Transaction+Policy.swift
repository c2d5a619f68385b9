extension Transaction {
    /// The tenant's global settings document.
    package var settings: SettingsRepository { SettingsRepository(tx: self) }
    /// The tenant's ordered subsettings.
    package var subsettings: SubsettingRepository { SubsettingRepository(tx: self) }
    /// What policy reads of the tenant's synced directory.
    package var policyFacts: PolicyFactsRepository { PolicyFactsRepository(tx: self) }
}
