/// A set of sourcedIds tuned for the reader's reference checks (millions of lookups per bundle).
///
/// Open addressing with linear probing over a 64-bit FNV-1a hash of the UTF-8 bytes (with a final mix, so the low
/// bits probe well). Each slot keeps the full hash beside its key: a miss usually stops at an empty slot and a hit
/// compares one integer before the string, with no per-lookup hasher seeding.
struct SourcedIdSet {
    private var hashes: [UInt64]
    private var keys: [String]
    private var mask: Int
    private(set) var count = 0

    init(capacity: Int = 1024) {
        var size = 16
        while size < capacity * 2 { size <<= 1 }
        hashes = [UInt64](repeating: 0, count: size)
        keys = [String](repeating: "", count: size)
        mask = size - 1
    }

    /// The slot hash of a sourcedId; never 0 (0 marks an empty slot).
    @inline(__always)
    static func hash(_ id: String) -> UInt64 {
        var h = FNV1a.hash(id)
        h ^= h >> 33
        h &*= 0xff51_afd7_ed55_8ccd
        h ^= h >> 33
        return h == 0 ? 1 : h
    }

    func contains(_ id: String) -> Bool {
        let h = Self.hash(id)
        return hashes.withUnsafeBufferPointer { slots in
            var i = Int(truncatingIfNeeded: h) & mask
            while true {
                let slot = slots[i]
                if slot == 0 { return false }
                if slot == h, keys[i] == id { return true }
                i = (i + 1) & mask
            }
        }
    }

    /// Adds `id`; returns false when it was already there.
    @discardableResult
    mutating func insert(_ id: String) -> Bool {
        if (count + 1) * 2 > hashes.count { grow() }
        let h = Self.hash(id)
        var i = Int(truncatingIfNeeded: h) & mask
        while true {
            let slot = hashes[i]
            if slot == 0 {
                hashes[i] = h
                keys[i] = id
                count += 1
                return true
            }
            if slot == h, keys[i] == id { return false }
            i = (i + 1) & mask
        }
    }

    private mutating func grow() {
        let oldHashes = hashes, oldKeys = keys
        let size = hashes.count * 2
        hashes = [UInt64](repeating: 0, count: size)
        keys = [String](repeating: "", count: size)
        mask = size - 1
        for (j, h) in oldHashes.enumerated() where h != 0 {
            var i = Int(truncatingIfNeeded: h) & mask
            while hashes[i] != 0 { i = (i + 1) & mask }
            hashes[i] = h
            keys[i] = oldKeys[j]
        }
    }
}
