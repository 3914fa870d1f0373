/// Short, readable, random identifiers: `int_k3m9x2pq`, `crs_7hq4ztn2`.
enum Identifier {
    private static let alphabet = Array("abcdefghjkmnpqrstuvwxyz23456789")

    static func make(prefix: String, length: Int = 8) -> String {
        var generator = SystemRandomNumberGenerator()
        return prefix + "_" + String((0..<length).map { _ in alphabet.randomElement(using: &generator)! })
    }
}
