package import CharterCore
package import CharterStore

/// A connector whose token held (docs/connector-protocol.md, "Identity"): its transactions are confined to its
/// tenant.
///
/// Handlers of `/v1/connector/…` get one from ``ConnectorAuthenticator`` (CharterServer) and open their
/// transaction with `database.withTenant(connector.binding, …)`, as the agent routes do with a device.
package struct AuthenticatedConnector: Sendable, Hashable {
    package let connector: ConnectorID
    /// The tenant and MSP its credential was read with.
    package let binding: TenantBinding
    /// The protocol version the request said it speaks (`Charter-Connector-Protocol`, 1 when absent).
    package let protocolVersion: Int
    package var tenant: TenantID { binding.tenant }
    package var msp: MSPID { binding.msp }

    package init(connector: ConnectorID, binding: TenantBinding, protocolVersion: Int) {
        self.connector = connector
        self.binding = binding
        self.protocolVersion = protocolVersion
    }
}
