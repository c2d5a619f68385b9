/// An enrolled device as policy sees it: its computer object (`nil` while the device is not linked to one) and
/// the users known to log on to it.
///
/// Generic over the device identifier so this module does not fix how the service names devices.
package struct ManagedDevice<ID: Hashable & Sendable>: Hashable, Sendable {
    package let id: ID
    package let computer: ObjectGUID?
    package let users: [ObjectGUID]

    package init(id: ID, computer: ObjectGUID?, users: [ObjectGUID]) {
        self.id = id
        self.computer = computer
        self.users = users
    }

    /// The policies a device's bundle carries: the computer alone first (which is also the default for an
    /// unknown user), then one per known user, in ``users`` order.
    package func policies(using resolver: PolicyResolver, in facts: DirectoryFacts) -> [EffectivePolicy] {
        [resolver.resolve(for: nil, on: computer, in: facts)]
            + users.map { resolver.resolve(for: $0, on: computer, in: facts) }
    }
}
