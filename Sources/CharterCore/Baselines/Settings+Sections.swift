import CharterJSON
package import Foundation

extension Settings {
    /// Decodes a settings document strictly, as ``decode(from:)``, and names the sections it contained.
    ///
    /// A tenant's own settings win over its baselines only in the sections its document sets
    /// (docs/baselines.md, "Precedence"), so the service records them with the document.
    ///
    /// - Throws: ``DocumentError`` as ``decode(from:)``.
    package static func decodeNamingSections(from data: Data) throws(DocumentError) -> (Settings, Set<Section>) {
        let settings = try decode(from: data)
        guard case .object(let members) = try JSONValue.parseDocument(data) else { return (settings, []) }
        return (settings, Set(Section.allCases.filter { members[$0.rawValue] != nil }))
    }
}
