import Foundation

/// A text/plain message in UTF-8, rendered as RFC 5322 in 7-bit ASCII.
///
/// Header text that is not ASCII becomes RFC 2047 encoded-words (`=?UTF-8?B?…?=`); the body is quoted-printable
/// (RFC 2045 §6.7), so any text survives any relay; lines end in CRLF, and headers are folded at 78 characters
/// where they can be.
struct EmailMessage: Hashable, Sendable {
    /// A header value that cannot be rendered.
    enum RenderingError: Error, Hashable, CustomStringConvertible {
        /// The value holds a line break, which would start a header of its own (header injection).
        case lineBreak(header: String)
        /// An address in `From` or `To` is not a plain ASCII address.
        case invalidAddress(header: String, address: String)

        var description: String {
            switch self {
            case .lineBreak(let header): "the \(header) header would contain a line break"
            case .invalidAddress(let header, let address): "'\(address)' cannot be written in the \(header) header"
            }
        }
    }

    var from: Mailbox
    var to: [String]
    var subject: String
    var body: String
    var date: Date
    /// The unique id, without angle brackets (`id@domain`).
    var messageID: String

    /// The message as sent after `DATA` (before dot-stuffing): headers, an empty line, the encoded body.
    ///
    /// - Throws: ``RenderingError`` for a header value with CR or LF, or an address that is not plain ASCII.
    func rendered() throws(RenderingError) -> String {
        for (header, value) in [("From", from.name ?? ""), ("Subject", subject), ("Message-ID", messageID)] {
            guard !value.contains(where: { $0.isNewline }) else { throw .lineBreak(header: header) }
        }
        for (header, address) in [("From", from.address)] + to.map({ ("To", $0) }) {
            guard Mailbox.isEnvelopeAddress(address) else { throw .invalidAddress(header: header, address: address) }
        }
        guard messageID.utf8.allSatisfy({ (33...126).contains($0) && $0 != UInt8(ascii: ">") }) else {
            throw .invalidAddress(header: "Message-ID", address: messageID)
        }
        var fromWords = ["<\(from.address)>"]
        if let name = from.name {
            let nameWords = Self.needsEncoding(name) ? Self.encodedWords(name) : [Self.quoted(name)]
            fromWords.insert(contentsOf: nameWords, at: 0)
        }
        let toWords = to.enumerated().map { $0.offset < to.count - 1 ? $0.element + "," : $0.element }
        let subjectWords =
            Self.needsEncoding(subject) ? Self.encodedWords(subject) : subject.split(separator: " ").map(String.init)
        return "Date: \(Self.date(date))\r\n"
            + Self.folded("From", fromWords)
            + Self.folded("To", toWords)
            + Self.folded("Subject", subjectWords)
            + "Message-ID: <\(messageID)>\r\n"
            + "MIME-Version: 1.0\r\n"
            + "Content-Type: text/plain; charset=utf-8\r\n"
            + "Content-Transfer-Encoding: quoted-printable\r\n"
            // RFC 3834: out-of-office and other automatic replies should not answer this.
            + "Auto-Submitted: auto-generated\r\n"
            + "\r\n"
            // The body's own final line break is the one that ends the message.
            + Self.quotedPrintable(body.last?.isNewline == true ? String(body.dropLast()) : body) + "\r\n"
    }

    // MARK: - Headers

    /// `Thu, 01 Jan 2026 00:00:00 +0000` (RFC 5322 §3.3), in UTC.
    static func date(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = .gmt
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss '+0000'"
        return formatter.string(from: date)
    }

    /// `name: word word…`, folded before a word that would take the line past 78 characters.
    static func folded(_ name: String, _ words: [String]) -> String {
        var header = name + ":"
        var lineLength = header.count
        for word in words {
            if lineLength + 1 + word.count > 78, lineLength > name.count + 1 {
                header += "\r\n"
                lineLength = 0
            }
            header += " " + word
            lineLength += 1 + word.count
        }
        return header + "\r\n"
    }

    /// Whether header text must be encoded: anything outside printable ASCII, or text a reader could take for
    /// an encoded-word.
    static func needsEncoding(_ text: String) -> Bool {
        !text.utf8.allSatisfy { (32...126).contains($0) } || text.contains("=?")
    }

    /// RFC 2047 B-encoded words of at most 39 bytes of UTF-8 each (64 characters, so a header line with one
    /// stays within 76), never splitting a character's bytes.
    static func encodedWords(_ text: String) -> [String] {
        var words: [String] = []
        var chunk: [UInt8] = []
        for scalar in text.unicodeScalars {
            let bytes = Array(String(scalar).utf8)
            if chunk.count + bytes.count > 39 {
                words.append("=?UTF-8?B?" + Data(chunk).base64EncodedString() + "?=")
                chunk = []
            }
            chunk += bytes
        }
        if !chunk.isEmpty { words.append("=?UTF-8?B?" + Data(chunk).base64EncodedString() + "?=") }
        return words
    }

    /// An ASCII display name as a quoted-string.
    static func quoted(_ name: String) -> String {
        "\"" + name.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
    }

    // MARK: - Body

    /// Quoted-printable text (RFC 2045 §6.7): printable ASCII but `=` stays, everything else is `=XX` of its
    /// UTF-8 bytes, space and tab at a line's end too; line breaks become CRLF; lines longer than 76 characters
    /// get soft breaks (`=` at the end).
    static func quotedPrintable(_ text: String) -> String {
        let hex = Array("0123456789ABCDEF".utf8)
        let lines = text.replacingOccurrences(of: "\r\n", with: "\n")
            .split(separator: "\n", omittingEmptySubsequences: false)
        return lines.map { line -> String in
            let bytes = Array(line.utf8)
            var encoded: [UInt8] = []
            var lineLength = 0
            for (index, byte) in bytes.enumerated() {
                let isBlank = byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t")
                let token: [UInt8] =
                    if (33...126).contains(byte) && byte != UInt8(ascii: "=") || isBlank && index < bytes.count - 1 {
                        [byte]
                    } else {
                        [UInt8(ascii: "="), hex[Int(byte >> 4)], hex[Int(byte & 0x0F)]]
                    }
                if lineLength + token.count > 75 {
                    encoded += Array("=\r\n".utf8)
                    lineLength = 0
                }
                encoded += token
                lineLength += token.count
            }
            return String(decoding: encoded, as: UTF8.self)
        }
        .joined(separator: "\r\n")
    }
}
