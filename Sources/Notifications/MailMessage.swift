import Foundation

/// An e-mail address with an optional display name.
public struct MailAddress: Sendable, Equatable {
    public var name: String?
    /// `user@host`
    public var address: String

    /// An address with an optional display name, taken as given (``parse(_:)`` is the one that checks it).
    public init(name: String? = nil, address: String) {
        self.name = name
        self.address = address
    }

    /// Parses `user@host` or `Display Name <user@host>`; nil when it is neither.
    public static func parse(_ text: String) -> MailAddress? {
        let text = text.trimmingCharacters(in: .whitespaces)
        if let open = text.lastIndex(of: "<"), text.hasSuffix(">") {
            let address = String(text[text.index(after: open)..<text.index(before: text.endIndex)])
            var name = text[..<open].trimmingCharacters(in: .whitespaces)
            if name.hasPrefix("\""), name.hasSuffix("\""), name.count >= 2 { name = String(name.dropFirst().dropLast()) }
            guard isAddress(address) else { return nil }
            return MailAddress(name: name.isEmpty ? nil : name, address: address)
        }
        return isAddress(text) ? MailAddress(address: text) : nil
    }

    static func isAddress(_ text: String) -> Bool {
        let parts = text.split(separator: "@", omittingEmptySubsequences: false)
        return parts.count == 2 && !parts[0].isEmpty && !parts[1].isEmpty
            && !text.contains(where: { $0 == " " || $0 == "<" || $0 == ">" || $0 == "\r" || $0 == "\n" || !$0.isASCII })
    }

    /// The header form: the name RFC 2047-encoded when it is not ASCII, quoted when it has specials.
    var headerValue: String {
        guard let name, !name.isEmpty else { return address }
        return "\(MIME.phrase(name)) <\(address)>"
    }
}

/// A rendered e-mail: subject, text and HTML parts.
public struct RenderedMail: Sendable, Equatable {
    public var subject: String
    public var text: String
    public var html: String

    /// A rendered mail with every part given.
    public init(subject: String, text: String, html: String) {
        self.subject = subject
        self.text = text
        self.html = html
    }
}

/// Builds RFC 5322 messages: multipart/alternative (text, then HTML), quoted-printable UTF-8 bodies, RFC 2047
/// encoded headers where they are not ASCII, CRLF line ends.
public enum MIME {
    /// The whole message. The same inputs give the same bytes, so a re-sent message is the one sent before.
    ///
    /// - Parameters:
    ///   - messageID: without angle brackets, e.g. `msg_abc@rosterflow.example`.
    public static func compose(
        _ mail: RenderedMail, from: MailAddress, to: [MailAddress], messageID: String, date: Date,
        extraHeaders: [(String, String)] = []
    ) -> String {
        let boundary = "=_rosterflow_" + messageID.filter { $0.isLetter || $0.isNumber }
        var headers: [(String, String)] = [
            ("Message-ID", "<\(messageID)>"),
            ("Date", rfc5322Date(date)),
            ("From", from.headerValue),
            ("To", to.map(\.headerValue).joined(separator: ", ")),
            ("Subject", unstructured(mail.subject)),
            ("MIME-Version", "1.0"),
            ("Content-Type", "multipart/alternative; boundary=\"\(boundary)\""),
        ]
        headers += extraHeaders
        var out = headers.map { fold("\($0.0): \($0.1)") }.joined(separator: "\r\n")
        out += "\r\n\r\nThis is a multipart message in MIME format.\r\n"
        for (type, body) in [("text/plain", mail.text), ("text/html", mail.html)] {
            out += "\r\n--\(boundary)\r\n"
            out += "Content-Type: \(type); charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
            out += quotedPrintable(body)
        }
        out += "\r\n--\(boundary)--\r\n"
        return out
    }

    /// `Tue, 24 Nov 2026 03:28:02 +0000`: the instant in UTC, to the second (RFC 5322 section 3.3).
    public static func rfc5322Date(_ date: Date) -> String {
        UTCTime(date.timeIntervalSince1970).rfc5322
    }

    /// An unstructured header value (Subject): as is when it is printable ASCII, else RFC 2047 `B` encoded words.
    public static func unstructured(_ text: String) -> String {
        let clean = text.replacingOccurrences(of: "\r", with: " ").replacingOccurrences(of: "\n", with: " ")
        if clean.unicodeScalars.allSatisfy({ $0.value >= 0x20 && $0.value < 0x7f }) { return clean }
        return encodedWords(clean)
    }

    /// A display name: encoded words when not ASCII, a quoted string when it holds specials, else as is.
    static func phrase(_ text: String) -> String {
        let clean = text.replacingOccurrences(of: "\r", with: " ").replacingOccurrences(of: "\n", with: " ")
        if !clean.unicodeScalars.allSatisfy({ $0.value >= 0x20 && $0.value < 0x7f }) { return encodedWords(clean) }
        let specials = CharacterSet(charactersIn: "()<>[]:;@\\,.\"")
        if clean.unicodeScalars.contains(where: specials.contains) {
            return "\"" + clean.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
        }
        return clean
    }

    /// `=?UTF-8?B?…?=` words of at most 75 characters, split between characters (never inside one), joined by a
    /// folding space.
    static func encodedWords(_ text: String) -> String {
        var words: [String] = []
        var chunk = Data()
        // 45 bytes of UTF-8 encode to 60 base64 characters: 12 + 60 = 72 ≤ 75.
        for character in text {
            let bytes = Data(String(character).utf8)
            if chunk.count + bytes.count > 45, !chunk.isEmpty {
                words.append("=?UTF-8?B?\(chunk.base64EncodedString())?=")
                chunk = Data()
            }
            chunk.append(bytes)
        }
        if !chunk.isEmpty { words.append("=?UTF-8?B?\(chunk.base64EncodedString())?=") }
        return words.joined(separator: "\r\n ")
    }

    /// Folds a header line longer than 78 characters at spaces (encoded words already carry their own folds).
    static func fold(_ line: String) -> String {
        if line.contains("\r\n") || line.count <= 78 { return line }
        var out = ""
        var current = ""
        for word in line.split(separator: " ", omittingEmptySubsequences: false) {
            if !current.isEmpty, current.count + 1 + word.count > 76 {
                out += current + "\r\n"
                current = " " + word
            } else {
                current += current.isEmpty ? String(word) : " " + word
            }
        }
        return out + current
    }

    /// Quoted-printable (RFC 2045) of UTF-8 text, with CRLF line ends and soft breaks at 76 characters.
    public static func quotedPrintable(_ text: String) -> String {
        let hex = Array("0123456789ABCDEF".utf8)
        var out: [UInt8] = []
        let normalized = text.replacingOccurrences(of: "\r\n", with: "\n")
        for (index, line) in normalized.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            if index > 0 { out += [13, 10] }
            var length = 0
            let bytes = Array(line.utf8)
            for (position, byte) in bytes.enumerated() {
                let last = position == bytes.count - 1
                var encoded: [UInt8]
                if (byte == 32 || byte == 9) && !last {
                    encoded = [byte]
                } else if byte >= 33 && byte <= 126 && byte != 61 {
                    encoded = [byte]
                } else {
                    encoded = [61, hex[Int(byte >> 4)], hex[Int(byte & 0xf)]]
                }
                if length + encoded.count > 75 {
                    out += [61, 13, 10]
                    length = 0
                }
                out += encoded
                length += encoded.count
            }
        }
        if !out.isEmpty { out += [13, 10] }
        return String(decoding: out, as: UTF8.self)
    }
}
