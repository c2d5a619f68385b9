import CharterJSON
import Foundation

/// Reads values out of a ``JSONValue`` tree strictly, collecting every problem with its JSON pointer.
///
/// Each accessor returns `nil` when the value is missing or wrong; wrong values are recorded in
/// ``issues``, so a caller keeps reading and the user sees all problems at once.
struct DocumentReader {
    private(set) var issues: [DocumentIssue] = []

    mutating func report(_ pointer: JSONPointer, _ message: String) {
        issues.append(DocumentIssue(pointer: pointer, message: message))
    }

    /// Reads an object whose members must all be in `allowed`, reporting unknown members and missing
    /// `required` ones.
    mutating func object(
        _ value: JSONValue,
        at pointer: JSONPointer,
        allowed: [String],
        required: [String] = []
    ) -> [String: JSONValue]? {
        guard case .object(let members) = value else {
            report(pointer, "must be an object, found \(value.typeName)")
            return nil
        }
        for key in members.keys.sorted() where !allowed.contains(key) {
            report(pointer.appending(key), "unknown field; allowed: \(allowed.joined(separator: ", "))")
        }
        for key in required where members[key] == nil {
            report(pointer.appending(key), "required field is missing")
        }
        return members
    }

    mutating func array(_ value: JSONValue, at pointer: JSONPointer, maxCount: Int) -> [JSONValue]? {
        guard case .array(let elements) = value else {
            report(pointer, "must be an array, found \(value.typeName)")
            return nil
        }
        guard elements.count <= maxCount else {
            report(pointer, "must have at most \(maxCount) elements, found \(elements.count)")
            return nil
        }
        return elements
    }

    mutating func string(_ value: JSONValue, at pointer: JSONPointer, maxLength: Int = 1024) -> String? {
        guard case .string(let string) = value else {
            report(pointer, "must be a string, found \(value.typeName)")
            return nil
        }
        // Characters as JSON Schema's maxLength counts them: Unicode code points.
        guard string.unicodeScalars.count <= maxLength else {
            report(pointer, "must be at most \(maxLength) characters long")
            return nil
        }
        return string
    }

    /// Reads a string that must not be empty once surrounding whitespace is trimmed; returns it trimmed.
    mutating func nonEmptyString(_ value: JSONValue, at pointer: JSONPointer, maxLength: Int = 1024) -> String? {
        guard let string = string(value, at: pointer, maxLength: maxLength) else { return nil }
        let trimmed = string.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !trimmed.isEmpty else {
            report(pointer, "must not be empty")
            return nil
        }
        return trimmed
    }

    mutating func bool(_ value: JSONValue, at pointer: JSONPointer) -> Bool? {
        guard case .bool(let bool) = value else {
            report(pointer, "must be a boolean, found \(value.typeName)")
            return nil
        }
        return bool
    }

    mutating func integer(_ value: JSONValue, at pointer: JSONPointer, in range: ClosedRange<Int>) -> Int? {
        let integer: Int
        switch value {
        case .integer(let value):
            integer = Int(value)
        case .number:
            // The parser makes every number with an exact Int64 value an integer (`15.0` too).
            report(pointer, "must be an integer")
            return nil
        default:
            report(pointer, "must be an integer, found \(value.typeName)")
            return nil
        }
        guard range.contains(integer) else {
            report(pointer, "must be between \(range.lowerBound) and \(range.upperBound), found \(integer)")
            return nil
        }
        return integer
    }

    mutating func enumeration<Value: RawRepresentable<String> & CaseIterable>(
        _ value: JSONValue,
        at pointer: JSONPointer,
        as type: Value.Type = Value.self
    ) -> Value? {
        guard let string = string(value, at: pointer) else { return nil }
        guard let result = Value(rawValue: string) else {
            let allowed = Value.allCases.map(\.rawValue).joined(separator: ", ")
            report(pointer, "unknown value \"\(string)\"; must be one of \(allowed)")
            return nil
        }
        return result
    }

    mutating func guid(_ value: JSONValue, at pointer: JSONPointer) -> ObjectGUID? {
        guard let string = string(value, at: pointer) else { return nil }
        guard let guid = ObjectGUID(string) else {
            report(pointer, "must be a GUID such as 4f3c2a1e-0000-4000-8000-000000000000")
            return nil
        }
        return guid
    }

    /// Reads an array of values that must be distinct, reading each element with `element`.
    mutating func uniqueArray<Element: Hashable>(
        _ value: JSONValue,
        at pointer: JSONPointer,
        maxCount: Int,
        element: (inout DocumentReader, JSONValue, JSONPointer) -> Element?
    ) -> [Element]? {
        guard let values = array(value, at: pointer, maxCount: maxCount) else { return nil }
        var result: [Element] = []
        var seen: Set<Element> = []
        var isValid = true
        for (position, item) in values.enumerated() {
            guard let parsed = element(&self, item, pointer.appending(position)) else {
                isValid = false
                continue
            }
            if seen.insert(parsed).inserted {
                result.append(parsed)
            } else {
                report(pointer.appending(position), "duplicate value")
                isValid = false
            }
        }
        return isValid ? result : nil
    }
}
