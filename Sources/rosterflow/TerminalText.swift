/// Text for a terminal: values from districts and their files (names, CSV values, titles) may carry control characters
/// that a terminal would obey — clear the screen, set the window title, move the cursor. Text output shows them
/// visibly instead (`\u{1B}`); JSON output stays exact (JSON escapes them itself).
enum TerminalText {
    /// `text` with every C0 control character except tab and newline, DEL and every C1 control character written as
    /// `\u{XX}`; unchanged (not copied) when it has none.
    static func escape(_ text: String) -> String {
        guard text.utf8.contains(where: { $0 < 0x20 && $0 != 0x09 && $0 != 0x0A || $0 == 0x7F || $0 == 0xC2 }) else { return text }
        var result = String.UnicodeScalarView()
        for scalar in text.unicodeScalars {
            if isControl(scalar) {
                result.append(contentsOf: "\\u{\(String(scalar.value, radix: 16, uppercase: true).leftPadded(2))}".unicodeScalars)
            } else {
                result.append(scalar)
            }
        }
        return String(result)
    }

    static func isControl(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x09, 0x0A: false
        case 0x00..<0x20, 0x7F, 0x80...0x9F: true
        default: false
        }
    }
}

extension String {
    fileprivate func leftPadded(_ width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
