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
            : value.split(separator: "/", omittingEmptySubsequences: false).dropFirst().map(Self.unescape)
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
        tokens.map { "/" + Self.escape($0) }.joined()
    }

    private static func escape(_ token: String) -> String {
        token.replacing("~", with: "~0").replacing("/", with: "~1")
    }

    /// Reverses ``escape(_:)``: `~1` first, then `~0`, as RFC 6901 §4 orders it (so `~01` is `~1`).
    private static func unescape(_ token: Substring) -> String {
        String(token).replacing("~1", with: "/").replacing("~0", with: "~")
    }
}
