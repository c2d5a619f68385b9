import CharterServices
import Hummingbird

extension ConnectorRunRoutes {
    /// Stand-in for the connector authentication (`ConnectorAuthenticator.authenticate` of branch s16-identity),
    /// which this branch does not have: every request is refused with 401 until the merge passes that instead.
    static let standInAuthentication: @Sendable (Request, AppRequestContext) async throws -> AuthenticatedConnector = {
        _, _ in
        throw Problem(.unauthorized, "Connector authentication is not available.")
    }
}
