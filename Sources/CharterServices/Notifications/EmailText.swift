import Foundation

/// Text as plain-text emails put it.
package enum EmailText {
    /// `text` on one line: control characters and line or paragraph separators become spaces.
    package static func line(_ text: String) -> String {
        String(
            String.UnicodeScalarView(
                text.unicodeScalars.map { scalar in
                    scalar.properties.generalCategory == .control || scalar.properties.generalCategory == .lineSeparator
                        || scalar.properties.generalCategory == .paragraphSeparator ? " " : scalar
                }
            )
        )
        .trimmingCharacters(in: .whitespaces)
    }
}
