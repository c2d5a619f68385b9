import Foundation

/// An RFC 6901 JSON pointer, such as `/pre_approved_applications/2/protection/sha256`.
///
/// Built by appending reference tokens; ``description`` escapes `~` as `~0` and `/` as `~1`.
/// The empty pointer (`""`) designates the whole document.
package struct JSONPointer: Hashable, Sendable, CustomStringConvertible, ExpressibleByStringLiteral {
    /// The unescaped reference tokens, outermost first.
    package let tokens: [String]

    package init(_ tokens: [String] = []) {
        self.tokens = tokens
    }

    /// Parses the textual form (`/a/b~1c`); tokens are unescaped.
    package init(stringLiteral value: String) {
        self.tokens =
            value.isEmpty
            ? []
            : value.split(separator: "/", omittingEmptySubsequences: false).dropFirst().map {
                $0.replacingOccurrences(of: "~1", with: "/").replacingOccurrences(of: "~0", with: "~")
            }
    }

    /// The pointer to member `key` of the object this pointer designates.
    package func appending(_ key: String) -> JSONPointer {
        JSONPointer(tokens + [key])
    }

    /// The pointer to element `index` of the array this pointer designates.
    package func appending(_ index: Int) -> JSONPointer {
        JSONPointer(tokens + [String(index)])
    }

    package var description: String {
        tokens.map { "/" + $0.replacingOccurrences(of: "~", with: "~0").replacingOccurrences(of: "/", with: "~1") }
            .joined()
    }
}
