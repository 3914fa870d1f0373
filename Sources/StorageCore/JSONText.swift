/// A JSON text written straight into bytes: objects, keys and string values only (outbox payloads and webhook
/// bodies), escaped as JSONSerialization does (`"`, `\`, control characters; `/` and non-ASCII as they are).
/// `flatStrings` reads back the flat objects it writes. Shared by Storage, Core and Notifications (`package` access:
/// not part of Storage's public API).
package struct JSONText: Sendable {
    package private(set) var bytes: [UInt8] = []
    /// Whether the next key or value is the first in its object.
    private var first = true

    /// An empty text with room for `capacity` bytes before it grows.
    package init(capacity: Int = 512) {
        bytes.reserveCapacity(capacity)
    }

    /// Starts an object (`{`); the next key is its first.
    package mutating func open() {
        bytes.append(UInt8(ascii: "{"))
        first = true
    }

    /// Ends the current object (`}`).
    package mutating func close() {
        bytes.append(UInt8(ascii: "}"))
        first = false
    }

    /// Writes a key, escaped and quoted, with the comma before it when it is not the first in its object, and the colon
    /// after it.
    package mutating func key(_ name: String) {
        if !first { bytes.append(UInt8(ascii: ",")) }
        first = false
        string(name)
        bytes.append(UInt8(ascii: ":"))
    }

    /// Writes a string value (after ``key(_:)``), quoted and escaped as JSONSerialization does.
    package mutating func string(_ value: String) {
        Self.appendString(value, to: &bytes)
    }

    /// Appends `value` to `bytes` as a JSON string, quoted and escaped as JSONSerialization does: the one escaping of
    /// every hand-written JSON in the package.
    package static func appendString(_ value: String, to bytes: inout [UInt8]) {
        bytes.append(UInt8(ascii: "\""))
        var value = value
        // Most values need no escaping: copy their bytes in one go.
        let copied = value.withUTF8 { utf8 -> Bool in
            guard !utf8.contains(where: { $0 < 0x20 || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") }) else { return false }
            bytes.append(contentsOf: utf8)
            return true
        }
        if copied {
            bytes.append(UInt8(ascii: "\""))
            return
        }
        for byte in value.utf8 {
            switch byte {
            case UInt8(ascii: "\""): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\"")])
            case UInt8(ascii: "\\"): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\\")])
            case 0x0A: bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "n")])
            case 0x0D: bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "r")])
            case 0x09: bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "t")])
            case 0x08: bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "b")])
            case 0x0C: bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "f")])
            case 0..<0x20:
                let hex = Array("0123456789abcdef".utf8)
                bytes.append(contentsOf: Array("\\u00".utf8) + [hex[Int(byte >> 4)], hex[Int(byte & 15)]])
            default: bytes.append(byte)
            }
        }
        bytes.append(UInt8(ascii: "\""))
    }
}

extension JSONText {
    /// A flat JSON object of strings (an outbox payload), read without Foundation; nil for anything else
    /// (nesting, numbers, bad escapes), which the caller then hands to JSONSerialization.
    package static func flatStrings(_ text: String) -> [String: String]? {
        var text = text
        return text.withUTF8 { bytes -> [String: String]? in
            var index = 0
            func skipSpace() {
                while index < bytes.count, bytes[index] == 0x20 || bytes[index] == 0x0A || bytes[index] == 0x0D || bytes[index] == 0x09 {
                    index += 1
                }
            }
            func hex4() -> UInt32? {
                guard index + 4 <= bytes.count else { return nil }
                var value: UInt32 = 0
                for _ in 0..<4 {
                    let byte = bytes[index]
                    let digit: UInt32
                    switch byte {
                    case 0x30...0x39: digit = UInt32(byte - 0x30)
                    case 0x41...0x46: digit = UInt32(byte - 0x41 + 10)
                    case 0x61...0x66: digit = UInt32(byte - 0x61 + 10)
                    default: return nil
                    }
                    value = value << 4 | digit
                    index += 1
                }
                return value
            }
            func string() -> String? {
                guard index < bytes.count, bytes[index] == 0x22 else { return nil }
                index += 1
                let start = index
                // Fast path: no escapes.
                while index < bytes.count, bytes[index] != 0x22, bytes[index] != 0x5C, bytes[index] >= 0x20 { index += 1 }
                guard index < bytes.count else { return nil }
                if bytes[index] == 0x22 {
                    defer { index += 1 }
                    return String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self)
                }
                var out = Array(bytes[start..<index])
                while index < bytes.count {
                    let byte = bytes[index]
                    index += 1
                    switch byte {
                    case 0x22:
                        return String(decoding: out, as: UTF8.self)
                    case 0x5C:
                        guard index < bytes.count else { return nil }
                        let escaped = bytes[index]
                        index += 1
                        switch escaped {
                        case 0x22, 0x5C, 0x2F: out.append(escaped)
                        case 0x62: out.append(0x08)
                        case 0x66: out.append(0x0C)
                        case 0x6E: out.append(0x0A)
                        case 0x72: out.append(0x0D)
                        case 0x74: out.append(0x09)
                        case 0x75:
                            guard var scalar = hex4() else { return nil }
                            if (0xD800..<0xDC00).contains(scalar) {
                                guard index + 2 <= bytes.count, bytes[index] == 0x5C, bytes[index + 1] == 0x75 else { return nil }
                                index += 2
                                guard let low = hex4(), (0xDC00..<0xE000).contains(low) else { return nil }
                                scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                            }
                            guard let unicode = Unicode.Scalar(scalar) else { return nil }
                            out.append(contentsOf: Array(String(Character(unicode)).utf8))
                        default:
                            return nil
                        }
                    case 0..<0x20:
                        return nil
                    default:
                        out.append(byte)
                    }
                }
                return nil
            }
            var values: [String: String] = [:]
            skipSpace()
            guard index < bytes.count, bytes[index] == 0x7B else { return nil }
            index += 1
            skipSpace()
            if index < bytes.count, bytes[index] == 0x7D {
                index += 1
                skipSpace()
                return index == bytes.count ? values : nil
            }
            while true {
                skipSpace()
                guard let key = string() else { return nil }
                skipSpace()
                guard index < bytes.count, bytes[index] == 0x3A else { return nil }
                index += 1
                skipSpace()
                guard let value = string() else { return nil }
                values[key] = value
                skipSpace()
                guard index < bytes.count else { return nil }
                if bytes[index] == 0x2C {
                    index += 1
                    continue
                }
                guard bytes[index] == 0x7D else { return nil }
                index += 1
                skipSpace()
                return index == bytes.count ? values : nil
            }
        }
    }
}

extension JSONText {
    /// `values` as a flat JSON object, keys sorted (the last value wins for a repeated key): an outbox payload.
    package static func object(_ values: [(String, String)]) -> String {
        // A stable insertion sort by key, in place (about fifteen pairs): equal keys keep their order, and of a run of
        // equal keys only the last (the later value) is written.
        var sorted = values
        if sorted.count > 1 {
            for index in 1..<sorted.count {
                let pair = sorted[index]
                var slot = index
                while slot > 0, sorted[slot - 1].0 > pair.0 {
                    sorted[slot] = sorted[slot - 1]
                    slot -= 1
                }
                sorted[slot] = pair
            }
        }
        var json = JSONText()
        json.open()
        for index in sorted.indices {
            if index + 1 < sorted.count, sorted[index + 1].0 == sorted[index].0 { continue }
            json.key(sorted[index].0)
            json.string(sorted[index].1)
        }
        json.close()
        return String(decoding: json.bytes, as: UTF8.self)
    }
}

extension JSONText {
    /// `values` as a JSON array of strings, in order: the ids handed to SQLite's `json_each`.
    package static func array(_ values: [String]) -> String {
        var json = JSONText(capacity: values.reduce(2) { $0 + $1.utf8.count + 3 })
        json.bytes.append(UInt8(ascii: "["))
        for (index, value) in values.enumerated() {
            if index > 0 { json.bytes.append(UInt8(ascii: ",")) }
            json.string(value)
        }
        json.bytes.append(UInt8(ascii: "]"))
        return String(decoding: json.bytes, as: UTF8.self)
    }
}
