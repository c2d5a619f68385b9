public import CharterJSON
public import Foundation

extension BundlePolicy {
    /// A settings document with its canonical JSON text, encoded (or checked) once and reusable in
    /// every bundle that carries the document.
    ///
    /// Give these to ``BundlePolicy/init(encodedDocuments:computer:defaultUser:users:)``; keep them
    /// (for example by content hash) while the policies they come from do not change.
    public struct EncodedDocument: Sendable, Hashable {
        /// The document.
        public let value: JSONValue
        /// Its canonical JSON text (``JSONValue/canonicalData``).
        public let canonicalData: Data

        /// Encodes a document.
        ///
        /// - Parameter value: The document, a JSON object.
        public init(_ value: JSONValue) {
            self.value = value
            self.canonicalData = value.canonicalData
        }

        /// Takes a document that is already canonical JSON text from elsewhere.
        ///
        /// The text is parsed once and must be exactly the canonical form of what it parses to, so
        /// that a bundle never signs anything else. A document held as a ``JSONValue`` (as the service
        /// holds its settings) needs no such check: ``init(_:)`` writes it with the one canonical writer.
        ///
        /// - Parameter canonicalData: The canonical JSON text.
        /// - Throws: ``JOSEError/invalidJSON(part:)`` (part `document`) when the text is not JSON or
        ///   not in canonical form.
        public init(canonicalData: Data) throws(JOSEError) {
            guard let value = try? JSONParser.parse(canonicalData), value.canonicalBytes.elementsEqual(canonicalData)
            else {
                throw .invalidJSON(part: "document")
            }
            self.value = value
            self.canonicalData = canonicalData
        }
    }
}
