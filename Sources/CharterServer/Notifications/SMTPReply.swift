import Foundation

/// A reply of an SMTP server (RFC 5321 §4.2): a three-digit code and one or more lines of text.
struct SMTPReply: Hashable, Sendable {
    var code: Int
    /// The text of each line, without the code and separator.
    var lines: [String]

    /// The lines joined with spaces, as an error message shows them.
    var text: String { lines.joined(separator: " ").trimmingCharacters(in: .whitespaces) }

    /// 2xx: the command succeeded.
    var isSuccess: Bool { (200..<300).contains(code) }

    /// 5xx: a permanent failure; sending the same again will fail again.
    var isPermanentFailure: Bool { (500..<600).contains(code) }
}

/// Splits the bytes an SMTP server sends into replies.
///
/// Each line is `code-text` except the last of a reply, `code text` or the bare `code`; every line of one reply
/// carries the same code (RFC 5321 §4.2.1). Lines end in CRLF; a bare LF is accepted, as most clients do.
struct SMTPReplyParser {
    /// Longer than RFC 5321's 512 octets, which some servers exceed in their `EHLO` answer.
    static let maximumLineLength = 4096
    /// A reply with more lines than this is not an SMTP server talking.
    static let maximumLines = 256

    private var buffer: [UInt8] = []
    private var code: Int?
    private var lines: [String] = []

    /// Whether bytes were received that are not part of a reply returned yet.
    var hasUnreadBytes: Bool { !buffer.isEmpty || code != nil }

    mutating func append(_ bytes: some Sequence<UInt8>) {
        buffer.append(contentsOf: bytes)
    }

    /// The next complete reply, or `nil` when more bytes are needed.
    ///
    /// - Throws: ``SMTPError/malformedReply(_:)`` for a line without a code, with codes that differ within one
    ///   reply, or longer than ``maximumLineLength``.
    mutating func next() throws(SMTPError) -> SMTPReply? {
        while let newline = buffer.firstIndex(of: UInt8(ascii: "\n")) {
            var line = buffer[..<newline]
            buffer.removeSubrange(...newline)
            if line.last == UInt8(ascii: "\r") { line = line.dropLast() }
            guard line.count <= Self.maximumLineLength else { throw .malformedReply("a reply line is too long") }
            let (lineCode, isLast, text) = try Self.parse(Array(line))
            if let code, code != lineCode {
                throw .malformedReply("a reply mixes the codes \(code) and \(lineCode)")
            }
            code = lineCode
            lines.append(text)
            guard lines.count <= Self.maximumLines else { throw .malformedReply("a reply has too many lines") }
            if isLast {
                defer {
                    code = nil
                    lines = []
                }
                return SMTPReply(code: lineCode, lines: lines)
            }
        }
        guard buffer.count <= Self.maximumLineLength else { throw .malformedReply("a reply line is too long") }
        return nil
    }

    /// Splits one line into its code, whether it ends the reply, and its text.
    private static func parse(_ line: [UInt8]) throws(SMTPError) -> (code: Int, isLast: Bool, text: String) {
        let digits = line.prefix(3)
        guard digits.count == 3, digits.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }),
            (UInt8(ascii: "2")...UInt8(ascii: "5")).contains(digits[0])
        else {
            let start = String(decoding: line.prefix(40), as: UTF8.self)
            throw .malformedReply("'\(start)' does not start with a reply code")
        }
        let code = digits.reduce(0) { $0 * 10 + Int($1 - UInt8(ascii: "0")) }
        guard line.count > 3 else { return (code, true, "") }
        let text = String(decoding: line.dropFirst(4), as: UTF8.self)
        switch line[3] {
        case UInt8(ascii: " "): return (code, true, text)
        case UInt8(ascii: "-"): return (code, false, text)
        default: throw .malformedReply("reply code \(code) is followed by neither a space nor a hyphen")
        }
    }
}
