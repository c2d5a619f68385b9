internal import Foundation

/// The JSON decoding used on the wire; encoding is ``JSONValue/canonicalData``.
enum JSONCoding {
    static func decode<Value: Decodable>(_ type: Value.Type, from data: Data) throws -> Value {
        try JSONDecoder().decode(type, from: data)
    }

    /// Decodes a JSON object into its members, or returns `nil` when the data is not a JSON object.
    static func object(from data: Data) -> [String: JSONValue]? {
        try? decode([String: JSONValue].self, from: data)
    }
}
