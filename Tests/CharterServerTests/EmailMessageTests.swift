import Foundation
import Testing

@testable import CharterServer

/// Rendering an email as RFC 5322 (encoded-words, quoted-printable, folding, header injection), without a
/// network.
@Suite("Email messages")
struct EmailMessageTests {
    static let newYear2026 = Date(timeIntervalSince1970: 1_767_225_600)

    static func message(subject: String = "Approval needed", body: String = "Hello\n") -> EmailMessage {
        EmailMessage(
            from: Mailbox(name: "Charter", address: "charter@example.com"), to: ["it@example.com", "desk@example.com"],
            subject: subject, body: body, date: newYear2026, messageID: "1d1c@example.com"
        )
    }

    @Test("a rendered message: every header, an empty line, the quoted-printable body, CRLF throughout")
    func rendering() throws {
        #expect(
            try Self.message().rendered() == """
                Date: Thu, 01 Jan 2026 00:00:00 +0000\r
                From: "Charter" <charter@example.com>\r
                To: it@example.com, desk@example.com\r
                Subject: Approval needed\r
                Message-ID: <1d1c@example.com>\r
                MIME-Version: 1.0\r
                Content-Type: text/plain; charset=utf-8\r
                Content-Transfer-Encoding: quoted-printable\r
                Auto-Submitted: auto-generated\r
                \r
                Hello\r

                """
        )
    }

    @Test("a line break in any header value is refused (header injection)")
    func headerInjection() {
        #expect(throws: EmailMessage.RenderingError.lineBreak(header: "Subject")) {
            try Self.message(subject: "Hi\r\nBcc: everyone@example.com").rendered()
        }
        #expect(throws: EmailMessage.RenderingError.lineBreak(header: "Subject")) {
            try Self.message(subject: "Hi\nBcc: everyone@example.com").rendered()
        }
        var message = Self.message()
        message.from.name = "Charter\rX-Evil: 1"
        #expect(throws: EmailMessage.RenderingError.lineBreak(header: "From")) { try message.rendered() }
        message = Self.message()
        message.to.append("x@example.com\r\nBcc: y@example.com")
        #expect(throws: EmailMessage.RenderingError.self) { try message.rendered() }
        message = Self.message()
        message.messageID = "a@b>\r\nX: y"
        #expect(throws: EmailMessage.RenderingError.self) { try message.rendered() }
    }

    @Test("non-ASCII header text becomes UTF-8 B encoded-words of at most 75 characters that split no character")
    func encodedWords() throws {
        #expect(EmailMessage.encodedWords("Grüße") == ["=?UTF-8?B?R3LDvMOfZQ==?="])
        let long = String(repeating: "Überprüfung 🔐 ", count: 8)
        let words = EmailMessage.encodedWords(long)
        #expect(words.count > 1)
        var decoded = Data()
        for word in words {
            #expect(word.count <= 75)
            #expect(word.hasPrefix("=?UTF-8?B?") && word.hasSuffix("?="))
            let chunk = try #require(Data(base64Encoded: String(word.dropFirst(10).dropLast(2))))
            #expect(String(data: chunk, encoding: .utf8) != nil, "a word splits a character")
            decoded += chunk
        }
        #expect(String(decoding: decoded, as: UTF8.self) == long)
        #expect(EmailMessage.needsEncoding("Grüße"))
        #expect(EmailMessage.needsEncoding("looks like =?an encoded word?="))
        #expect(!EmailMessage.needsEncoding("Approval needed: setup.exe"))
    }

    @Test("long headers fold before a word at 78 characters; a non-ASCII display name is encoded")
    func folding() throws {
        var message = Self.message(subject: String(repeating: "word ", count: 30) + "Grüße")
        message.to = (1...6).map { "approver-number-\($0)@subsidiary.example.com" }
        message.from.name = "Genehmigungen Ü"
        let rendered = try message.rendered()
        let lines = rendered.components(separatedBy: "\r\n")
        #expect(lines.allSatisfy { $0.count <= 78 }, "\(lines.filter { $0.count > 78 })")
        #expect(rendered.contains("From: =?UTF-8?B?R2VuZWhtaWd1bmdlbiDDnA==?= <charter@example.com>\r\n"))
        #expect(rendered.contains("To: approver-number-1@subsidiary.example.com,\r\n approver-number-2@"))
        #expect(rendered.contains("Subject: =?UTF-8?B?"))
        #expect(rendered.utf8.allSatisfy { $0 < 128 }, "the rendered message is 7-bit")
    }

    @Test(
        "quoted-printable: = and bytes outside printable ASCII as =XX, trailing blanks encoded, soft breaks at 76",
        arguments: [
            ("a=b", "a=3Db"),
            ("trailing space ", "trailing space=20"),
            ("tab\t", "tab=09"),
            ("inner space stays", "inner space stays"),
            ("é", "=C3=A9"),
            ("one\ntwo\r\nthree", "one\r\ntwo\r\nthree"),
            (String(repeating: "x", count: 100), String(repeating: "x", count: 75) + "=\r\n" + String(repeating: "x", count: 25)),
            (String(repeating: "x", count: 74) + "é", String(repeating: "x", count: 74) + "=\r\n=C3=A9"),
            (".leading dot", ".leading dot"),
        ]
    )
    func quotedPrintable(text: String, expected: String) {
        #expect(EmailMessage.quotedPrintable(text) == expected)
    }
}
