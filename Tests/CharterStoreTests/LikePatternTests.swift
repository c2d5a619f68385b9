import CharterStore
import Testing

@Suite("LIKE patterns from typed text")
struct LikePatternTests {
    @Test(
        "%, _ and the escape character match only themselves; the rest is kept as typed",
        arguments: [
            ("ws1", "%ws1%", "ws1%"),
            ("%", "%\\%%", "\\%%"),
            ("_", "%\\_%", "\\_%"),
            ("lab_01%", "%lab\\_01\\%%", "lab\\_01\\%%"),
            ("a\\b", "%a\\\\b%", "a\\\\b%"),
            ("\\%", "%\\\\\\%%", "\\\\\\%%"),
            ("ÉTÉ-π", "%ÉTÉ-π%", "ÉTÉ-π%"),
            ("'; DROP TABLE devices; --", "%'; DROP TABLE devices; --%", "'; DROP TABLE devices; --%"),
        ]
    )
    func patterns(text: String, containing: String, prefix: String) {
        #expect(LikePattern.containing(text) == containing)
        #expect(LikePattern.prefix(text) == prefix)
    }
}
