import Foundation

/// Rows for `COPY … FROM STDIN` in PostgreSQL's text format, built on UTF-8 bytes: values separated by tabs, one row
/// per line, `\N` for NULL, and a backslash, tab, newline or carriage return inside a text escaped (`\\`, `\t`, `\n`,
/// `\r`). Bytes go as `bytea`'s hex form (`\\x0a1b`: its backslash escaped too). The fastest way PostgreSQL takes
/// many new rows; used for pure inserts (added records, stored change sets).
struct PGCopyRows {
    private var bytes: [UInt8] = []
    private var atLineStart = true
    /// How many rows are complete.
    private(set) var count = 0

    private mutating func separate() {
        if !atLineStart { bytes.append(UInt8(ascii: "\t")) }
        atLineStart = false
    }

    /// Appends a text value (nil: NULL).
    mutating func append(_ text: String?) {
        separate()
        guard var text else {
            bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "N")])
            return
        }
        text.withUTF8 { utf8 in
            for byte in utf8 {
                switch byte {
                case UInt8(ascii: "\\"): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\\")])
                case UInt8(ascii: "\t"): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "t")])
                case UInt8(ascii: "\n"): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "n")])
                case UInt8(ascii: "\r"): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "r")])
                default: bytes.append(byte)
                }
            }
        }
    }

    /// Appends an integer (nil: NULL).
    mutating func append(_ number: Int64?) {
        separate()
        guard let number else {
            bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "N")])
            return
        }
        bytes.append(contentsOf: String(number).utf8)
    }

    /// Appends a double as its shortest exact text.
    mutating func append(_ number: Double) {
        separate()
        bytes.append(contentsOf: number.pgParam.copyText.utf8)
    }

    /// Appends bytes for a `bytea` column (nil: NULL).
    mutating func append(bytea data: Data?) {
        separate()
        guard let data else {
            bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "N")])
            return
        }
        bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\\"), UInt8(ascii: "x")])
        let digits = Array("0123456789abcdef".utf8)
        for byte in data {
            bytes.append(digits[Int(byte >> 4)])
            bytes.append(digits[Int(byte & 0x0f)])
        }
    }

    /// Ends the current row.
    mutating func endRow() {
        bytes.append(UInt8(ascii: "\n"))
        atLineStart = true
        count += 1
    }

    /// The rows so far as text, and an empty builder for the next ones.
    mutating func take() -> String {
        defer {
            bytes.removeAll(keepingCapacity: true)
            count = 0
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

extension PGParam {
    /// The parameter's text (numbers only), for a `COPY` row.
    fileprivate var copyText: String {
        if case .text(let text) = self { return text }
        return "\\N"
    }
}
