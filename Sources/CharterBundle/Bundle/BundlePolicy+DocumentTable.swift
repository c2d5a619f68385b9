public import Foundation

extension BundlePolicy {
    /// The documents of one bundle as its policy is assembled: each distinct document is carried once,
    /// under `d1`, `d2`, … in order of first use, already in canonical form.
    public struct DocumentTable: Sendable {
        /// The documents by id, for ``BundlePolicy/init(encodedDocuments:computer:defaultUser:users:)``.
        public private(set) var byID: [String: EncodedDocument] = [:]
        private var idByText: [Data: String] = [:]

        /// An empty table.
        public init() {}

        /// The id of a document given as canonical JSON text, adding it when it is new.
        ///
        /// - Parameter canonicalData: The document's canonical JSON text.
        /// - Returns: The document's id in this bundle.
        /// - Throws: ``JOSEError/invalidJSON(part:)`` when the text is not canonical JSON.
        public mutating func add(canonicalData: Data) throws(JOSEError) -> String {
            if let id = idByText[canonicalData] { return id }
            return add(try EncodedDocument(canonicalData: canonicalData))
        }

        /// The id of an encoded document, adding it when it is new.
        ///
        /// - Parameter document: The document.
        /// - Returns: The document's id in this bundle.
        public mutating func add(_ document: EncodedDocument) -> String {
            if let id = idByText[document.canonicalData] { return id }
            let id = "d\(idByText.count + 1)"
            byID[id] = document
            idByText[document.canonicalData] = id
            return id
        }
    }
}
