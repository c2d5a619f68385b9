import CharterCore
import CharterStore
import Foundation
import Testing

@testable import CharterServer

/// Rendering an approval email as RFC 5322 (encoded-words, quoted-printable, folding, header injection) and what
/// the email says, without a network.
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

    // MARK: - What approvers read

    static func request(kind: ElevationKind = .runAsAdmin, status: StoredRequest.Status = .pending) -> StoredRequest {
        StoredRequest(
            id: UUID(uuidString: "6F9619FF-8B86-D011-B42D-00C04FC964FF")!, tenant: TenantID(UUID()), device: DeviceID(UUID()),
            kind: kind, userSID: "S-1-5-21-1-2-3-1104", userGUID: nil, userUPN: "ann@example.test", directoryUser: nil,
            computer: nil, hostname: "WS-17\r\nBcc: x@example.com",
            application: kind == .runAsAdmin
                ? ElevationRequest.Application(fileName: "Über-Tool.exe", path: #"C:\Tools\Über-Tool.exe"#, sha256: "ab")
                : nil,
            reason: "month end – Grüße", status: status, isLogged: true, allowsPINOverride: false,
            source: .subsetting(id: SubsettingID(UUID()), name: "Finance"), decisionReason: "mode approval_required",
            sessionMinutes: kind == .adminSession ? 15 : nil, createdAt: newYear2026,
            expiresAt: newYear2026.addingTimeInterval(86_400)
        )
    }

    @Test("the pending email names user, computer, application, reason, kind, policy, id and the API calls to decide")
    func pendingEmail() throws {
        let request = Self.request()
        let notification = ApprovalEmail.notification(
            .pending, about: request, tenantName: "Contoso", recipients: ["it@example.com"], at: Self.newYear2026
        )
        #expect(notification.topic == .request(request.id, .pending))
        #expect(notification.subject == "Approval needed: Über-Tool.exe for ann@example.test on WS-17  Bcc: x@example.com")
        let body = notification.body
        for expected in [
            "Tenant:       Contoso (\(request.tenant))", "Kind:         run an application as administrator",
            "User:         ann@example.test", "User SID:     S-1-5-21-1-2-3-1104", "Computer:     WS-17  Bcc: x@example.com",
            "Application:  Über-Tool.exe", #"Path:         C:\Tools\Über-Tool.exe"#, "Reason:       month end – Grüße",
            "Policy:       subsetting Finance", "Expires:      2026-01-02T00:00:00Z",
            "Request id:   6f9619ff-8b86-d011-b42d-00c04fc964ff",
            "POST /v1/tenants/\(request.tenant)/requests/6f9619ff-8b86-d011-b42d-00c04fc964ff/approve",
            "POST /v1/tenants/\(request.tenant)/requests/6f9619ff-8b86-d011-b42d-00c04fc964ff/deny",
        ] {
            #expect(body.contains(expected), "\(expected)")
        }
        #expect(!body.contains("\r"), "control characters from the request do not reach the text")
        let rendered = try EmailMessage(
            from: Mailbox(address: "charter@example.com"), to: notification.recipients, subject: notification.subject,
            body: notification.body, date: Self.newYear2026, messageID: "x@example.com"
        ).rendered()
        #expect(!rendered.contains("\r\nBcc:"))
    }

    @Test("the expiry email says nobody decided in time; an admin session names its length")
    func expiredEmail() {
        let notification = ApprovalEmail.notification(
            .expired, about: Self.request(kind: .adminSession, status: .expired), tenantName: "Contoso",
            recipients: ["it@example.com"], at: Self.newYear2026
        )
        #expect(notification.subject.hasPrefix("Request expired: administrator session for ann@example.test on WS-17"))
        #expect(notification.body.contains("nobody approved or denied it in time"))
        #expect(notification.body.contains("Kind:         administrator session of 15 minutes"))
        #expect(notification.body.contains("Expired:      2026-01-02T00:00:00Z"))
        #expect(!notification.body.contains("Application:"))
        #expect(!notification.body.contains("/approve"))
    }
}
