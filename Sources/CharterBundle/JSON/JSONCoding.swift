internal import Foundation

/// The one JSON encoder and decoder configuration used on the wire.
///
/// Encoding sorts members and does not escape `/`, so equal values always give equal bytes.
enum JSONCoding {
    static func encode(_ value: some Encodable) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(value)
    }

    static func decode<Value: Decodable>(_ type: Value.Type, from data: Data) throws -> Value {
        try JSONDecoder().decode(type, from: data)
    }

    /// Decodes a JSON object into its members, or returns `nil` when the data is not a JSON object.
    static func object(from data: Data) -> [String: JSONValue]? {
        try? decode([String: JSONValue].self, from: data)
    }
}
