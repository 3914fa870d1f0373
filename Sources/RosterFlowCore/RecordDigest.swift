import Foundation
import OneRoster
import StorageCore

/// A 64-bit FNV-1a fingerprint of a record's fields, to tell an update from an unchanged row without storing rows.
///
/// Fields are mixed one by one as they are read (a list as its items joined by commas), each followed by a
/// separator byte; absent fields mix 0xff. The value is stored in held rosters, so it must never change.
struct Digest {
    private var hash = FNV1a()

    mutating func field(_ text: String?) {
        if let text { hash.mix(text) } else { hash.mix(byte: 0xff) }
        hash.mix(byte: 0x1f)  // field separator
    }

    /// A yes/no field: `true`, `false`, or absent.
    mutating func flag(_ value: Bool?) {
        field(value.map { $0 ? "true" : "false" })
    }

    /// The same as `field(items.joined(separator: ","))`, without building the joined string.
    mutating func list(_ items: [String]) {
        for (i, item) in items.enumerated() {
            if i > 0 { hash.mix(byte: 0x2c) }
            hash.mix(item)
        }
        hash.mix(byte: 0x1f)
    }

    mutating func finish(_ extensions: [String: String]) -> Int64 {
        if !extensions.isEmpty {
            for key in extensions.keys.sorted() {
                field(key)
                field(extensions[key])
            }
        }
        return Int64(bitPattern: hash.value)
    }

    static func of(_ fields: [String?], _ extensions: [String: String]) -> Int64 {
        var digest = Digest()
        fields.forEach { digest.field($0) }
        return digest.finish(extensions)
    }
}
