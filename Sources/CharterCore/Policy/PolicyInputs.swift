/// Everything a tenant's effective policies depend on: global settings, the ordered subsettings and the
/// directory facts.
package struct PolicyInputs: Sendable {
    package var global: Settings
    package var subsettings: [Subsetting]
    package var facts: DirectoryFacts

    package init(global: Settings, subsettings: [Subsetting], facts: DirectoryFacts) {
        self.global = global
        self.subsettings = subsettings
        self.facts = facts
    }
}
