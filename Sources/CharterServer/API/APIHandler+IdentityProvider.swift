import CharterCore
import CharterServices
import CharterStore
import Foundation
import OpenAPIRuntime

extension APIHandler {
    func getIdentityProvider(
        _ input: Operations.GetIdentityProvider.Input
    ) async throws -> Operations.GetIdentityProvider.Output {
        let call = try MSPCall.authorize(.manageAPIKeys, msp: input.path.msp)
        return .ok(.init(body: .json(.init(try await identityProviders.provider(of: call.msp, by: call.caller)))))
    }

    func putIdentityProvider(
        _ input: Operations.PutIdentityProvider.Input
    ) async throws -> Operations.PutIdentityProvider.Output {
        let call = try MSPCall.authorize(.manageAPIKeys, msp: input.path.msp)
        guard case .json(let body) = input.body else { throw Problem(.unsupportedMediaType, "Send application/json.") }
        let stored = try await identityProviders.configure(
            IdentityProviderDraft(
                issuer: body.issuer, clientID: body.clientId, clientSecret: body.clientSecret,
                allowedEmailDomains: body.allowedEmailDomains, groupsClaim: body.groupsClaim ?? "groups"
            ),
            of: call.msp, by: call.caller
        )
        return .ok(.init(body: .json(.init(stored))))
    }

    func deleteIdentityProvider(
        _ input: Operations.DeleteIdentityProvider.Input
    ) async throws -> Operations.DeleteIdentityProvider.Output {
        let call = try MSPCall.authorize(.manageAPIKeys, msp: input.path.msp)
        try await identityProviders.delete(of: call.msp, by: call.caller)
        return .noContent(.init())
    }
}

extension Components.Schemas.IdentityProvider {
    /// The answer: everything but the secret, of which only its presence is said.
    init(_ provider: IdentityProvider) {
        self.init(
            issuer: provider.issuer, clientId: provider.clientID, clientSecretSet: true,
            allowedEmailDomains: provider.allowedEmailDomains, groupsClaim: provider.groupsClaim,
            version: provider.version, createdAt: provider.createdAt, updatedAt: provider.updatedAt
        )
    }
}
