/// The outcome of `GET /v1/agent/bundle`.
public enum BundleFetch: Sendable, Hashable {
    /// `304`: the bundle named by `If-None-Match` is current.
    case notModified(etag: String?)
    /// `200`: a bundle to verify; `etag` is sent back verbatim (quotes included) as `If-None-Match`,
    /// `version` is `Charter-Bundle-Version` when present.
    case bundle(compact: String, etag: String, version: Int64?)
}
