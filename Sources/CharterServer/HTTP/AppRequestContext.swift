import CharterCore
import Hummingbird
import HummingbirdAuth
import Logging
import NIOCore

/// The one request context of the service: Hummingbird's core storage plus the authenticated principal.
struct AppRequestContext: AuthRequestContext, RemoteAddressRequestContext {
    var coreContext: CoreRequestContextStorage
    var identity: Principal?
    let remoteAddress: SocketAddress?

    init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.identity = nil
        self.remoteAddress = source.channel.remoteAddress
    }

    /// The request id Hummingbird put in the request's logger.
    var requestID: String? {
        logger[metadataKey: "hb.request.id"].map { "\($0)" }
    }
}
