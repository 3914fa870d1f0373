import Foundation

/// How a held (or dry-run) run's change set is kept: in blocks of up to ``capacity`` changes of one entity and one
/// operation, a row of `sync_change_blocks` each, in apply order.
///
/// A school-year rollover holds about four million changes (every enrollment of the year ending and the next year's
/// starting). Kept a row each, storing them was most of its review (12–16 s of B-tree inserts) and reading them back
/// most of the approval's start (5–10 s). In a block, a change's texts are written against the same column of the
/// change before it (the bytes they share, then the rest: `enr-2026-00000002` after `enr-2026-00000001` costs three
/// bytes), so a block of enrollments is about a third of their rows' size, and a block is one insert.
///
/// A change is encoded as: a flag byte (bit 0 parked; bits 1–5 which of `ref1`, `ref2`, `ref3`, `title`, `ref4` are
/// present; bit 6 field digests present; bit 7 changed-field mask present), the sourcedId, the digest (8 bytes, little
/// endian), each present text, then the field digests (length, bytes) and the mask (a varint), if present. A text is
/// the length it shares with the column's previous value in the block and the length and bytes of the rest, as
/// varints.
public enum ChangeBlocks {
    /// Changes a block holds at most: a page of a review decodes one block or two.
    public static let capacity = 2048

    public static let parked: UInt8 = 1 << 0
    public static let hasFields: UInt8 = 1 << 6
    public static let hasMask: UInt8 = 1 << 7
    /// The optional text columns, in encoding order, with their flag bits.
    public static let textFlags: [UInt8] = [1 << 1, 1 << 2, 1 << 3, 1 << 4, 1 << 5]
    /// The sourcedId's column and the optional texts' columns: `ref1`, `ref2`, `ref3`, `title`, `ref4`.
    public static let columns = 6

    /// Whether a change of `operation` and `entity` may join a block that starts with a change of `first`'s and holds
    /// `count` changes: same entity and operation, room left. Asked with the fields, not the changes, so that callers
    /// reading millions of changes in place copy none to ask.
    public static func fits(
        _ operation: RosterChange.Operation, _ entity: String, after first: (operation: RosterChange.Operation, entity: String),
        count: Int
    ) -> Bool {
        count < capacity && operation == first.operation && entity == first.entity
    }

    /// Threads that encode or decode blocks side by side: the machine's cores, at most 8.
    public static var workers: Int { max(1, min(8, ProcessInfo.processInfo.activeProcessorCount)) }

    /// `body(0)` … `body(count - 1)` run on ``workers`` threads (each taking every n-th index), their results in index
    /// order. `body` must only touch what its index owns.
    public static func concurrently<T>(_ count: Int, _ body: (Int) -> T) -> [T] {
        let workers = min(Self.workers, count)
        guard workers > 1 else { return (0..<count).map(body) }
        var results = [T?](repeating: nil, count: count)
        withoutActuallyEscaping(body) { body in
            results.withUnsafeMutableBufferPointer { out in
                let shared = UncheckedBox((out: out, body: body))
                DispatchQueue.concurrentPerform(iterations: workers) { worker in
                    for index in stride(from: worker, to: count, by: workers) { shared.value.out[index] = shared.value.body(index) }
                }
            }
        }
        return results.map { $0! }
    }
}

/// Hands a value to threads that only touch disjoint parts of it (see ``ChangeBlocks/concurrently(_:_:)``).
private struct UncheckedBox<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}

/// Encodes changes of one entity and one operation into a block's bytes.
///
/// Written through pointers (a rollover stores four million changes: a bounds and uniqueness check per byte, and a
/// list of texts per change, were most of its storing). Each change first makes room for its longest possible
/// encoding, then is written without checks. The pointers are the encoder's own fields, not a class's, so that no
/// access to them is checked at run time; ``Memory`` only owns (and frees) what they point to.
public struct ChangeBlockEncoder: @unchecked Sendable {
    private var memory: Memory
    /// The block's bytes, `written` of them so far.
    private var output: UnsafeMutablePointer<UInt8>
    private var capacity: Int
    private var written = 0
    /// Each column's previous text (the next one's shared start is counted against it): `stride` bytes a column.
    private var previous: UnsafeMutablePointer<UInt8>
    private var stride: Int
    private var previousCount: UnsafeMutablePointer<Int>
    /// How many changes the block holds so far.
    public private(set) var count = 0
    /// Whether every sourcedId appended so far (across ``reset()``s) was bytewise greater than the one before.
    public private(set) var ascending = true
    /// The last sourcedId of the block before the last ``reset()``, to check the next block's first against.
    private var carried: [UInt8] = []

    /// An encoder with room for a block of short changes (it grows for longer ones).
    public init() {
        capacity = 64 * ChangeBlocks.capacity
        stride = 64
        memory = Memory(capacity: capacity, stride: stride)
        output = memory.output
        previous = memory.previous
        previousCount = memory.previousCount
    }

    /// The block's bytes so far.
    public var bytes: [UInt8] { Array(UnsafeBufferPointer(start: output, count: written)) }

    /// Empties the block (keeping its memory) for the next one.
    public mutating func reset() {
        if count > 0 { carried = Array(UnsafeBufferPointer(start: previous, count: previousCount[0])) }
        if !isKnownUniquelyReferenced(&memory) {
            let order = (ascending, carried)
            self = ChangeBlockEncoder()
            (ascending, carried) = order
        }
        count = 0
        written = 0
        previousCount.update(repeating: 0, count: ChangeBlocks.columns)
    }

    /// Appends `change` (of the block's entity and operation: the caller keeps blocks apart).
    public mutating func append(_ change: borrowing RosterChange) {
        // A copy of an encoder writes into memory of its own.
        if !isKnownUniquelyReferenced(&memory) { copyMemory() }
        var flags: UInt8 = change.parked ? ChangeBlocks.parked : 0
        var longest = 1 + 8 + 2 * 10 + change.record.sourcedID.utf8.count + 10 + 5
        if let text = change.record.ref1 { flags |= ChangeBlocks.textFlags[0]; longest += 20 + text.utf8.count }
        if let text = change.record.ref2 { flags |= ChangeBlocks.textFlags[1]; longest += 20 + text.utf8.count }
        if let text = change.record.ref3 { flags |= ChangeBlocks.textFlags[2]; longest += 20 + text.utf8.count }
        if let text = change.record.title { flags |= ChangeBlocks.textFlags[3]; longest += 20 + text.utf8.count }
        if let text = change.record.ref4 { flags |= ChangeBlocks.textFlags[4]; longest += 20 + text.utf8.count }
        if let fields = change.record.fields { flags |= ChangeBlocks.hasFields; longest += fields.count }
        let mask = change.changedFieldMask
        if mask != nil { flags |= ChangeBlocks.hasMask }
        if written + longest > capacity { grow(to: written + longest) }
        var out = output + written
        out.pointee = flags
        out += 1
        out = appendText(change.record.sourcedID, column: 0, at: out)
        withUnsafeBytes(of: UInt64(bitPattern: change.record.digest).littleEndian) { digest in
            UnsafeMutableRawPointer(out).copyMemory(from: digest.baseAddress!, byteCount: 8)
        }
        out += 8
        if let text = change.record.ref1 { out = appendText(text, column: 1, at: out) }
        if let text = change.record.ref2 { out = appendText(text, column: 2, at: out) }
        if let text = change.record.ref3 { out = appendText(text, column: 3, at: out) }
        if let text = change.record.title { out = appendText(text, column: 4, at: out) }
        if let text = change.record.ref4 { out = appendText(text, column: 5, at: out) }
        if let fields = change.record.fields {
            out = Self.varint(UInt64(fields.count), at: out)
            fields.withUnsafeBytes { raw in
                if raw.count > 0 { UnsafeMutableRawPointer(out).copyMemory(from: raw.baseAddress!, byteCount: raw.count) }
            }
            out += fields.count
        }
        if let mask { out = Self.varint(UInt64(mask), at: out) }
        written = out - output
        count += 1
    }

    /// Appends a change given by its parts, read in place (a held record read from a row as the change that deletes
    /// it: no text is made). `text(1)` … `text(5)` are the UTF-8 bytes of `ref1`, `ref2`, `ref3`, `title` and `ref4`
    /// (nil when absent); the change has no field digests and no changed-field mask.
    public mutating func append(
        parked: Bool, sourcedID: UnsafeBufferPointer<UInt8>, digest: Int64, text: (Int) -> UnsafeBufferPointer<UInt8>?
    ) {
        if !isKnownUniquelyReferenced(&memory) { copyMemory() }
        var flags: UInt8 = parked ? ChangeBlocks.parked : 0
        var longest = 1 + 8 + 2 * 10 + sourcedID.count + 10 + 5
        for column in 1...5 {
            if let bytes = text(column) { flags |= ChangeBlocks.textFlags[column - 1]; longest += 20 + bytes.count }
        }
        if written + longest > capacity { grow(to: written + longest) }
        var out = output + written
        out.pointee = flags
        out += 1
        out = append(sourcedID, column: 0, at: out)
        withUnsafeBytes(of: UInt64(bitPattern: digest).littleEndian) { digest in
            UnsafeMutableRawPointer(out).copyMemory(from: digest.baseAddress!, byteCount: 8)
        }
        out += 8
        for column in 1...5 {
            if let bytes = text(column) { out = append(bytes, column: column, at: out) }
        }
        written = out - output
        count += 1
    }

    /// Writes `text` at `out` as the length it shares with the column's previous text, then the rest's length and
    /// bytes; returns where the next byte goes.
    private mutating func appendText(_ text: String, column: Int, at out: UnsafeMutablePointer<UInt8>) -> UnsafeMutablePointer<UInt8> {
        if let end = text.utf8.withContiguousStorageIfAvailable({ append($0, column: column, at: out) }) { return end }
        return Array(text.utf8).withUnsafeBufferPointer { append($0, column: column, at: out) }
    }

    private mutating func append(_ utf8: UnsafeBufferPointer<UInt8>, column: Int, at out: UnsafeMutablePointer<UInt8>)
        -> UnsafeMutablePointer<UInt8> {
        if utf8.count > stride { widenPrevious(to: 2 * utf8.count) }
        let prior = previous + column * stride
        let limit = min(previousCount[column], utf8.count)
        var shared = 0
        while shared < limit, prior[shared] == utf8[shared] { shared += 1 }
        if column == 0, ascending {
            if count > 0 {
                // Greater than the previous sourcedId: a greater byte where they differ, or longer with its start.
                ascending = shared < limit ? utf8[shared] > prior[shared] : utf8.count > previousCount[0]
            } else if !carried.isEmpty {
                ascending = carried.withUnsafeBufferPointer { Self.compare($0, utf8) < 0 }
            }
        }
        let rest = utf8.count - shared
        var out = Self.varint(UInt64(shared), at: out)
        out = Self.varint(UInt64(rest), at: out)
        if rest > 0 {
            out.update(from: utf8.baseAddress! + shared, count: rest)
            // The column's previous text becomes this one.
            (prior + shared).update(from: utf8.baseAddress! + shared, count: rest)
        }
        previousCount[column] = utf8.count
        return out + rest
    }

    /// Bytewise three-way comparison (SQLite's order of texts).
    private static func compare(_ a: UnsafeBufferPointer<UInt8>, _ b: UnsafeBufferPointer<UInt8>) -> Int {
        let n = min(a.count, b.count)
        if n > 0, let p = a.baseAddress, let q = b.baseAddress {
            let c = memcmp(p, q, n)
            if c != 0 { return Int(c) }
        }
        return a.count - b.count
    }

    /// Writes `value` as a varint (seven bits a byte, low first) at `out`; returns where the next byte goes.
    @inline(__always)
    private static func varint(_ value: UInt64, at out: UnsafeMutablePointer<UInt8>) -> UnsafeMutablePointer<UInt8> {
        var value = value
        var out = out
        while value >= 0x80 {
            out.pointee = UInt8(truncatingIfNeeded: value) | 0x80
            out += 1
            value >>= 7
        }
        out.pointee = UInt8(value)
        return out + 1
    }

    private mutating func grow(to needed: Int) {
        capacity = max(2 * capacity, needed)
        output = memory.replaceOutput(capacity: capacity, keeping: written)
    }

    private mutating func widenPrevious(to newStride: Int) {
        previous = memory.replacePrevious(stride: newStride, from: stride)
        stride = newStride
    }

    /// Gives this encoder memory of its own with the same contents (it was copied, and shared its memory).
    private mutating func copyMemory() {
        let copy = Memory(capacity: capacity, stride: stride)
        copy.output.update(from: output, count: written)
        copy.previous.update(from: previous, count: ChangeBlocks.columns * stride)
        copy.previousCount.update(from: previousCount, count: ChangeBlocks.columns)
        memory = copy
        output = copy.output
        previous = copy.previous
        previousCount = copy.previousCount
    }

    /// Owns (and frees) an encoder's allocations: its output, its columns' previous texts and their lengths. Their
    /// sizes are the encoder's.
    private final class Memory {
        private(set) var output: UnsafeMutablePointer<UInt8>
        private(set) var previous: UnsafeMutablePointer<UInt8>
        let previousCount: UnsafeMutablePointer<Int>

        init(capacity: Int, stride: Int) {
            output = .allocate(capacity: capacity)
            previous = .allocate(capacity: ChangeBlocks.columns * stride)
            previousCount = .allocate(capacity: ChangeBlocks.columns)
            previousCount.initialize(repeating: 0, count: ChangeBlocks.columns)
        }

        deinit {
            output.deallocate()
            previous.deallocate()
            previousCount.deallocate()
        }

        /// A larger output holding the first `written` bytes of the old one.
        func replaceOutput(capacity: Int, keeping written: Int) -> UnsafeMutablePointer<UInt8> {
            let grown = UnsafeMutablePointer<UInt8>.allocate(capacity: capacity)
            grown.update(from: output, count: written)
            output.deallocate()
            output = grown
            return grown
        }

        /// Wider columns of previous texts (`stride` bytes each instead of `oldStride`), each keeping its text.
        func replacePrevious(stride: Int, from oldStride: Int) -> UnsafeMutablePointer<UInt8> {
            let wider = UnsafeMutablePointer<UInt8>.allocate(capacity: ChangeBlocks.columns * stride)
            for column in 0..<ChangeBlocks.columns {
                (wider + column * stride).update(from: previous + column * oldStride, count: previousCount[column])
            }
            previous.deallocate()
            previous = wider
            return wider
        }
    }
}

/// Decodes a block written by ``ChangeBlockEncoder``.
public struct ChangeBlockDecoder: Sendable {
    private var previous = [[UInt8]](repeating: [], count: ChangeBlocks.columns)

    /// A decoder (it keeps each column's previous text while it decodes a block).
    public init() {}

    /// Hands each of the block's `count` changes to `body`, in order; stops early when `body` returns false.
    ///
    /// - Throws: ``StorageError`` when the bytes end early or say something they cannot (a damaged database).
    public mutating func decode(
        _ block: UnsafeRawBufferPointer, entity: String, operation: RosterChange.Operation, count: Int,
        _ body: (RosterChange) throws -> Bool
    ) throws {
        for column in previous.indices { previous[column].removeAll(keepingCapacity: true) }
        var reader = Reader(bytes: block)
        for _ in 0..<count {
            let flags = try reader.byte()
            let sourcedID = try text(&reader, column: 0)
            let digest = Int64(bitPattern: try reader.uint64())
            let ref1 = flags & ChangeBlocks.textFlags[0] != 0 ? try text(&reader, column: 1) : nil
            let ref2 = flags & ChangeBlocks.textFlags[1] != 0 ? try text(&reader, column: 2) : nil
            let ref3 = flags & ChangeBlocks.textFlags[2] != 0 ? try text(&reader, column: 3) : nil
            let title = flags & ChangeBlocks.textFlags[3] != 0 ? try text(&reader, column: 4) : nil
            let ref4 = flags & ChangeBlocks.textFlags[4] != 0 ? try text(&reader, column: 5) : nil
            var fields: Data?
            if flags & ChangeBlocks.hasFields != 0 {
                let length = try reader.length()
                fields = Data(try reader.bytes(length))
            }
            var mask: UInt32?
            if flags & ChangeBlocks.hasMask != 0 {
                let value = try reader.varint()
                guard value <= UInt64(UInt32.max) else { throw Self.damaged }
                mask = UInt32(value)
            }
            let record = RosterRecord(entity: entity, sourcedID: sourcedID, digest: digest, ref1: ref1, ref2: ref2,
                                      ref3: ref3, title: title, fields: fields, ref4: ref4)
            let change = RosterChange(operation: operation, record: record, parked: flags & ChangeBlocks.parked != 0,
                                      changedFieldMask: mask)
            guard try body(change) else { return }
        }
        guard reader.atEnd else { throw Self.damaged }
    }

    /// Checks that a block's bytes decode as `count` changes (as ``decode(_:entity:operation:count:_:)`` would),
    /// making nothing: a stored block is checked before it is kept encoded in memory (``EncodedChanges``).
    ///
    /// - Throws: ``StorageError`` when the bytes end early or say something they cannot (a damaged database).
    public static func validate(_ block: UnsafeRawBufferPointer, count: Int) throws {
        var lengths = [Int](repeating: 0, count: ChangeBlocks.columns)
        var reader = Reader(bytes: block)
        func text(_ column: Int) throws {
            let shared = try reader.length()
            let rest = try reader.length()
            guard shared <= lengths[column] else { throw damaged }
            _ = try reader.bytes(rest)
            lengths[column] = shared + rest
        }
        for _ in 0..<count {
            let flags = try reader.byte()
            try text(0)
            _ = try reader.uint64()
            for column in 1...5 where flags & ChangeBlocks.textFlags[column - 1] != 0 { try text(column) }
            if flags & ChangeBlocks.hasFields != 0 { _ = try reader.bytes(try reader.length()) }
            if flags & ChangeBlocks.hasMask != 0 {
                guard try reader.varint() <= UInt64(UInt32.max) else { throw damaged }
            }
        }
        guard reader.atEnd else { throw damaged }
    }

    private mutating func text(_ reader: inout Reader, column: Int) throws -> String {
        let shared = try reader.length()
        let rest = try reader.bytes(try reader.length())
        guard shared <= previous[column].count else { throw Self.damaged }
        previous[column].removeSubrange(shared...)
        previous[column].append(contentsOf: rest)
        return previous[column].withUnsafeBufferPointer { String(decoding: $0, as: UTF8.self) }
    }

    public static let damaged = StorageError(
        .database, "a stored change set is damaged (a block of sync_change_blocks does not decode): restore the database "
            + "from a backup, or drop the held run (`rosterflow sync reject RUN`) and sync again")

    /// Reads a block's bytes front to back, never past its end.
    private struct Reader {
        let bytes: UnsafeRawBufferPointer
        var position = 0

        var atEnd: Bool { position == bytes.count }

        mutating func byte() throws -> UInt8 {
            guard position < bytes.count else { throw ChangeBlockDecoder.damaged }
            defer { position += 1 }
            return bytes[position]
        }

        mutating func uint64() throws -> UInt64 {
            guard bytes.count - position >= 8 else { throw ChangeBlockDecoder.damaged }
            var value: UInt64 = 0
            for index in 0..<8 { value |= UInt64(bytes[position + index]) << (8 * UInt64(index)) }
            position += 8
            return value
        }

        mutating func varint() throws -> UInt64 {
            var value: UInt64 = 0
            var shift: UInt64 = 0
            while true {
                let next = try byte()
                guard shift < 64 else { throw ChangeBlockDecoder.damaged }
                value |= UInt64(next & 0x7F) << shift
                if next < 0x80 { return value }
                shift += 7
            }
        }

        /// A varint that counts bytes still to come (so never more than the block holds).
        mutating func length() throws -> Int {
            let value = try varint()
            guard value <= UInt64(bytes.count) else { throw ChangeBlockDecoder.damaged }
            return Int(value)
        }

        mutating func bytes(_ count: Int) throws -> UnsafeRawBufferPointer {
            guard bytes.count - position >= count else { throw ChangeBlockDecoder.damaged }
            defer { position += count }
            return UnsafeRawBufferPointer(rebasing: bytes[position..<(position + count)])
        }
    }
}
