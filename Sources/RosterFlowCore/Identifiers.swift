/// Short, readable, random identifiers: `int_k3m9x2pq`, `crs_7hq4ztn2`.
enum Identifier {
    private static let alphabet = Array("abcdefghjkmnpqrstuvwxyz23456789")

    static func make(prefix: String, length: Int = 8) -> String {
        // One system random draw per 12 characters (5 bits each), not one per character.
        var generator = SystemRandomNumberGenerator()
        var bits: UInt64 = 0
        var characters = [Character]()
        characters.reserveCapacity(length)
        for index in 0..<length {
            if index % 12 == 0 { bits = generator.next() }
            characters.append(alphabet[Int(bits % UInt64(alphabet.count))])
            bits /= UInt64(alphabet.count)
        }
        return prefix + "_" + String(characters)
    }
}
