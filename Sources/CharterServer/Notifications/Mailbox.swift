import Foundation

/// An email address with an optional display name, as in `Charter Approvals <approvals@example.com>`.
package struct Mailbox: Hashable, Sendable {
    package var name: String?
    package var address: String

    package init(name: String? = nil, address: String) {
        self.name = name
        self.address = address
    }

    /// Parses `address` or `Display Name <address>`.
    ///
    /// The address must be sendable in an SMTP envelope (``isEnvelopeAddress(_:)``); the name may be any text
    /// without line breaks, and surrounding double quotes are removed.
    ///
    /// - Returns: `nil` when the text is neither form.
    package init?(parsing text: String) {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        var name: String?
        var address = trimmed
        if trimmed.hasSuffix(">"), let open = trimmed.lastIndex(of: "<") {
            address = String(trimmed[trimmed.index(after: open)..<trimmed.index(before: trimmed.endIndex)])
            var display = trimmed[..<open].trimmingCharacters(in: .whitespaces)
            if display.count >= 2, display.hasPrefix("\""), display.hasSuffix("\"") {
                display = String(display.dropFirst().dropLast())
            }
            name = display.isEmpty ? nil : display
        }
        guard Self.isEnvelopeAddress(address), !(name?.contains(where: \.isNewline) ?? false) else { return nil }
        self.init(name: name, address: address)
    }

    /// The domain part of the address (after the last `@`).
    package var domain: Substring {
        address.lastIndex(of: "@").map { address[address.index(after: $0)...] } ?? ""
    }

    /// Whether `address` can go into `MAIL FROM:<…>` or `RCPT TO:<…>` as Charter sends them: printable ASCII
    /// without spaces or angle brackets, with a non-empty local part and domain around the last `@`.
    ///
    /// Addresses that need SMTPUTF8 (RFC 6531) are not sendable.
    package static func isEnvelopeAddress(_ address: String) -> Bool {
        guard address.utf8.count <= 254,
            address.utf8.allSatisfy({ (33...126).contains($0) && $0 != UInt8(ascii: "<") && $0 != UInt8(ascii: ">") }),
            let at = address.lastIndex(of: "@")
        else { return false }
        return at != address.startIndex && address.index(after: at) != address.endIndex
    }
}
