/// What the tenancy service refuses: the client's mistakes in managing tenants and API keys.
package enum TenancyError: RefusalConvertible, Equatable {
    /// The MSP already has a tenant of this name.
    case duplicateTenantName(String)
    /// A key's expiry must lie in the future.
    case expiryInPast

    package var refusal: Refusal {
        switch self {
        case .duplicateTenantName(let name):
            Refusal(.conflict, "The MSP already has a tenant named '\(name)'.", field: "/name")
        case .expiryInPast:
            Refusal(.invalid, "expires_at must lie in the future.", field: "/expires_at")
        }
    }
}
