public import CharterAgentWire
public import CharterBundle
public import Foundation

extension CharterAgentWire.AuditEvent {
    /// A `bundle.rejected` event carrying the failure code and its explanation.
    ///
    /// - Parameters:
    ///   - error: Why the bundle was refused.
    ///   - date: When it was refused.
    /// - Returns: The event.
    public static func bundleRejected(_ error: BundleError, at date: Date) -> AuditEvent {
        AuditEvent(
            type: "bundle.rejected",
            occurredAt: date,
            details: ["code": .string(error.code), "detail": .string(error.description)]
        )
    }
}
