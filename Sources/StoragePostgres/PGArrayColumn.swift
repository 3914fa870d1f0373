import Foundation

/// One column of a multi-row statement, built as a PostgreSQL array literal (`{"a","b",NULL}`) and sent as one text
/// parameter (`$n::text[]`, `$n::bigint[]`), so that thousands of rows go in one statement:
/// `INSERT … SELECT … FROM unnest($1::text[], $2::bigint[], …)`.
///
/// Texts are double-quoted with `"` and `\` escaped (so `NULL`, `{`, `,` and spaces stay texts); nil is an unquoted
/// `NULL`. Bytes go as their hex digits, for `decode(x, 'hex')`. Built on UTF-8 bytes, without a `String` per value.
struct PGArrayColumn {
    private var bytes: [UInt8] = [UInt8(ascii: "{")]
    /// How many values the column holds.
    private(set) var count = 0

    init(reserving capacity: Int = 0) {
        bytes.reserveCapacity(capacity)
    }

    private mutating func separate() {
        if count > 0 { bytes.append(UInt8(ascii: ",")) }
        count += 1
    }

    /// Appends a text (nil: NULL).
    mutating func append(_ text: String?) {
        separate()
        guard var text else {
            bytes.append(contentsOf: "NULL".utf8)
            return
        }
        bytes.append(UInt8(ascii: "\""))
        text.withUTF8 { utf8 in
            for byte in utf8 {
                if byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") { bytes.append(UInt8(ascii: "\\")) }
                bytes.append(byte)
            }
        }
        bytes.append(UInt8(ascii: "\""))
    }

    /// Appends an integer (nil: NULL).
    mutating func append(_ number: Int64?) {
        separate()
        guard let number else {
            bytes.append(contentsOf: "NULL".utf8)
            return
        }
        bytes.append(contentsOf: String(number).utf8)
    }

    /// Appends bytes as hex digits, for `decode(x, 'hex')` (nil: NULL; empty: an empty `bytea`).
    mutating func append(hex data: Data?) {
        separate()
        guard let data else {
            bytes.append(contentsOf: "NULL".utf8)
            return
        }
        // Quoted: an empty value must read as an empty text, not as a missing element.
        bytes.append(UInt8(ascii: "\""))
        let digits = Array("0123456789abcdef".utf8)
        for byte in data {
            bytes.append(digits[Int(byte >> 4)])
            bytes.append(digits[Int(byte & 0x0f)])
        }
        bytes.append(UInt8(ascii: "\""))
    }

    /// The array literal as a statement parameter.
    var param: PGParam {
        var literal = bytes
        literal.append(UInt8(ascii: "}"))
        return .text(String(decoding: literal, as: UTF8.self))
    }

    /// How many bytes the literal holds so far (to cap a batch's size).
    var byteCount: Int { bytes.count }
}
