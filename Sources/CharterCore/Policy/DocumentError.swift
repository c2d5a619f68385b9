package import CharterJSON

/// One problem found in a settings or subsetting document: where it is and what is wrong.
package struct DocumentIssue: Hashable, Sendable, CustomStringConvertible {
    /// The RFC 6901 pointer of the offending value (or of the missing member).
    package let pointer: JSONPointer
    /// A human-readable message, e.g. "must be one of disabled, audit_only, ...".
    package let message: String

    package init(pointer: JSONPointer, message: String) {
        self.pointer = pointer
        self.message = message
    }

    package var description: String { "\(pointer): \(message)" }
}

/// A document was rejected; ``issues`` lists every problem found, in document order of discovery.
package struct DocumentError: Error, Hashable, Sendable, CustomStringConvertible {
    /// Every problem found; never empty.
    package let issues: [DocumentIssue]

    package init(issues: [DocumentIssue]) {
        self.issues = issues
    }

    package var description: String { issues.map(\.description).joined(separator: "\n") }
}
