/// The 64-bit FNV-1a hash: the one implementation behind the reader's sourcedId set and Core's record and field
/// digests.
///
/// Values computed with it are stored in held rosters (record digests, field digests), so the algorithm and its
/// constants must never change. Inlinable so that Core's digest loops compile to the same tight loop as a local copy.
package struct FNV1a: Sendable {
    /// The FNV-1a 64-bit offset basis.
    @usableFromInline static let offsetBasis: UInt64 = 0xcbf2_9ce4_8422_2325
    /// The FNV-1a 64-bit prime.
    @usableFromInline static let prime: UInt64 = 0x100_0000_01b3

    @usableFromInline var state: UInt64

    /// The hash of everything mixed so far.
    @inlinable package var value: UInt64 { state }

    @inlinable package init() { state = Self.offsetBasis }

    /// Mixes one byte.
    @inlinable @inline(__always)
    package mutating func mix(byte: UInt8) {
        state = (state ^ UInt64(byte)) &* Self.prime
    }

    /// Mixes the UTF-8 bytes of `text`.
    @inlinable @inline(__always)
    package mutating func mix(_ text: String) {
        var v = state
        let done: Void? = text.utf8.withContiguousStorageIfAvailable { bytes in
            for byte in bytes { v = (v ^ UInt64(byte)) &* Self.prime }
        }
        if done == nil {
            for byte in text.utf8 { v = (v ^ UInt64(byte)) &* Self.prime }
        }
        state = v
    }

    /// The hash of the UTF-8 bytes of `text`.
    @inlinable @inline(__always)
    package static func hash(_ text: String) -> UInt64 {
        var hash = FNV1a()
        hash.mix(text)
        return hash.value
    }
}
