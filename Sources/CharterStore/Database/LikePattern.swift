/// `LIKE` patterns built from text a client typed: `%`, `_` and `\` match only themselves.
///
/// Use the patterns with `LIKE … ESCAPE '\'` (PostgreSQL's default escape character, written out so a reader
/// sees it): a hostile `%` or `_` then cannot widen a search to every row.
package enum LikePattern {
    /// `text` with every `%`, `_` and `\` preceded by `\`.
    package static func escaped(_ text: String) -> String {
        var escaped = ""
        for character in text {
            if character == "%" || character == "_" || character == "\\" { escaped.append("\\") }
            escaped.append(character)
        }
        return escaped
    }

    /// Matches values that contain `text`.
    package static func containing(_ text: String) -> String {
        "%" + escaped(text) + "%"
    }

    /// Matches values that start with `text`.
    package static func prefix(_ text: String) -> String {
        escaped(text) + "%"
    }
}
