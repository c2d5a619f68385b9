package import CharterCore

/// A tenant and the MSP it belongs to, as one database row reported them together (a device's credential or
/// signing identity, read through `charter_private.device_session` or `device_signing_key`, which join the
/// device to its live tenant).
///
/// Only CharterStore makes one, so a transaction opened with it (``Database/withTenant(_:logger:_:)``) needs no
/// check that the tenant belongs to the MSP.
package struct TenantBinding: Sendable, Hashable {
    package let tenant: TenantID
    package let msp: MSPID

    init(tenant: TenantID, msp: MSPID) {
        self.tenant = tenant
        self.msp = msp
    }
}
