/// Short, readable, random identifiers: `int_k3m9x2pq`, `crs_7hq4ztn2`.
enum Identifier {
    private static let alphabet = Array("abcdefghjkmnpqrstuvwxyz23456789".utf8)

    static func make(prefix: String, length: Int = 8) -> String {
        // One system random draw per 12 characters (5 bits each), not one per character; built as UTF-8 bytes
        // (one for every outbox row a transition writes).
        var generator = SystemRandomNumberGenerator()
        var bits: UInt64 = 0
        var bytes = [UInt8]()
        bytes.reserveCapacity(prefix.utf8.count + 1 + length)
        bytes.append(contentsOf: prefix.utf8)
        bytes.append(UInt8(ascii: "_"))
        for index in 0..<length {
            if index % 12 == 0 { bits = generator.next() }
            bytes.append(alphabet[Int(bits % UInt64(alphabet.count))])
            bits /= UInt64(alphabet.count)
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
