/// A change of a tenant's policy inputs, and which devices' effective policies it changes.
///
/// A device's policies (see ``ManagedDevice/policies(using:in:)``) can only change when the global
/// settings change, or when one of its objects (the computer, or a known user) has a different closure or
/// OU ancestry, or lies (before or after) in the scope of a *touched* subsetting of the matching target.
/// Touched subsettings are those added, removed or edited in any field, plus those whose order relative to
/// other subsettings changed. Only devices that pass this filter are resolved again, before and after,
/// and reported when any of their policies differ; an effective policy differs when its settings or its
/// source (subsetting id and name) do.
package struct PolicyChange: Sendable {
    package let before: PolicyInputs
    package let after: PolicyInputs

    private let beforeResolver: PolicyResolver
    private let afterResolver: PolicyResolver
    private let affectsEveryone: Bool
    private let touchedUserScopes: Subsetting.Scope
    private let touchedComputerScopes: Subsetting.Scope
    private let factsChanged: Bool

    package init(before: PolicyInputs, after: PolicyInputs) {
        self.before = before
        self.after = after
        self.beforeResolver = PolicyResolver(global: before.global, subsettings: before.subsettings)
        self.afterResolver = PolicyResolver(global: after.global, subsettings: after.subsettings)
        let touched = Self.touchedSubsettings(before: before.subsettings, after: after.subsettings)
        var userScopes = Subsetting.Scope()
        var computerScopes = Subsetting.Scope()
        for subsetting in (before.subsettings + after.subsettings) where touched?.contains(subsetting.id) ?? true {
            switch subsetting.target {
            case .user:
                userScopes.groups.formUnion(subsetting.scope.groups)
                userScopes.organizationalUnits.formUnion(subsetting.scope.organizationalUnits)
            case .computer:
                computerScopes.groups.formUnion(subsetting.scope.groups)
                computerScopes.organizationalUnits.formUnion(subsetting.scope.organizationalUnits)
            }
        }
        let affectsEveryone = before.global != after.global || touched == nil
        self.affectsEveryone = affectsEveryone
        self.touchedUserScopes = userScopes
        self.touchedComputerScopes = computerScopes
        // Comparing whole facts is linear in the directory; skip it when every device is resolved anyway.
        self.factsChanged = !affectsEveryone && before.facts != after.facts
    }

    /// The devices among `devices` whose effective policies differ between ``before`` and ``after``, in the
    /// order given.
    package func changedDevices<ID>(among devices: [ManagedDevice<ID>]) -> [ID] {
        devices.filter { device in
            guard mayChange(device) else { return false }
            return device.policies(using: beforeResolver, in: before.facts)
                != device.policies(using: afterResolver, in: after.facts)
        }
        .map(\.id)
    }

    /// Whether `device` passes the cheap filter described on the type.
    private func mayChange<ID>(_ device: ManagedDevice<ID>) -> Bool {
        if affectsEveryone { return true }
        if let computer = device.computer, mayChange(computer, touching: touchedComputerScopes) { return true }
        return device.users.contains { mayChange($0, touching: touchedUserScopes) }
    }

    private func mayChange(_ object: ObjectGUID, touching scopes: Subsetting.Scope) -> Bool {
        let groups = before.facts.groups(of: object)
        if factsChanged {
            let groupsAfter = after.facts.groups(of: object)
            if !groups.lazy.map(\.group).elementsEqual(groupsAfter.lazy.map(\.group))
                || before.facts.ouAncestry(of: object) != after.facts.ouAncestry(of: object)
            {
                return true
            }
        }
        // The object's placement is the same before and after by now, so testing one covers both.
        if !scopes.groups.isEmpty, groups.contains(where: { scopes.groups.contains($0.group) }) {
            return true
        }
        guard !scopes.organizationalUnits.isEmpty else { return false }
        var isUnderTouchedOU = false
        before.facts.forEachOUAncestor(of: object) { ou in
            if scopes.organizationalUnits.contains(ou) { isUnderTouchedOU = true }
        }
        return isUnderTouchedOU
    }

    /// Whether a change of the global settings alone reaches every device or none over one directory (the same
    /// facts before and after), decided without looking at any device: with the same subsettings before and after, every policy of a device comes from the
    /// same enabled subsetting (or from the global settings alone) before and after, so the device is reached
    /// exactly when one of those policies differs. `true` when every policy a device can have differs (each
    /// device has at least its computer's), `false` when none does, `nil` when it depends on the device (or
    /// the subsettings changed too).
    package static func reachesEveryDevice(
        from before: Settings, to after: Settings, before beforeSubsettings: [Subsetting],
        after afterSubsettings: [Subsetting]
    ) -> Bool? {
        guard beforeSubsettings == afterSubsettings else { return nil }
        var differs = [before != after]
        for subsetting in afterSubsettings where subsetting.isEnabled {
            differs.append(before.applying(subsetting.overrides) != after.applying(subsetting.overrides))
        }
        if differs.allSatisfy({ $0 }) { return true }
        if differs.allSatisfy({ !$0 }) { return false }
        return nil
    }

    /// Ids of subsettings whose change can move a match: added, removed, edited, or reordered relative to
    /// the others. `nil` when ids repeat within a list, which makes the comparison meaningless.
    private static func touchedSubsettings(before: [Subsetting], after: [Subsetting]) -> Set<SubsettingID>? {
        let beforeByID = Dictionary(before.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        let afterByID = Dictionary(after.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        guard beforeByID.count == before.count, afterByID.count == after.count else { return nil }
        var touched: Set<SubsettingID> = []
        for (id, subsetting) in beforeByID where afterByID[id] != subsetting {
            touched.insert(id)
        }
        for id in afterByID.keys where beforeByID[id] == nil {
            touched.insert(id)
        }
        // Among subsettings in both lists, everything between the first and the last position where the
        // two orders differ may have changed relative order; outside that block, order is the same.
        let commonBefore = before.map(\.id).filter { afterByID[$0] != nil }
        let commonAfter = after.map(\.id).filter { beforeByID[$0] != nil }
        if let first = commonBefore.indices.first(where: { commonBefore[$0] != commonAfter[$0] }),
            let last = commonBefore.indices.last(where: { commonBefore[$0] != commonAfter[$0] })
        {
            touched.formUnion(commonBefore[first...last])
        }
        return touched
    }
}
