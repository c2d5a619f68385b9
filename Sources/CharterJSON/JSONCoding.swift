package import Foundation

/// The JSON decoding used on the wire (``JSONParser`` into ``JSONValue``, then ``JSONValueDecoder``);
/// encoding is ``JSONValue/canonicalData``.
package enum JSONCoding {
    /// Decodes a value from JSON text.
    ///
    /// - Throws: `DecodingError.dataCorrupted` with an empty coding path when the text is not JSON,
    ///   and the `DecodingError`s of the type's `init(from:)`, whose coding paths name the member.
    package static func decode<Value: Decodable>(_ type: Value.Type, from data: Data) throws -> Value {
        let value: JSONValue
        do {
            value = try JSONParser.parse(data)
        } catch {
            throw DecodingError.dataCorrupted(
                .init(codingPath: [], debugDescription: "The data is not valid JSON: \(error).", underlyingError: error)
            )
        }
        return try JSONValueDecoder.decode(type, from: value)
    }

    /// Decodes a JSON object into its members, or returns `nil` when the data is not a JSON object.
    package static func object(from data: Data) -> [String: JSONValue]? {
        guard case .object(let members) = try? JSONParser.parse(data) else {
            return nil
        }
        return members
    }
}
