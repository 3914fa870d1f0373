import Foundation
import GRDB
import StorageCore

/// Writes a run's change set into `sync_change_blocks`, a block at a time (``ChangeBlocks``): changes one by one
/// (``add(_:)``, then ``flush()``), or blocks encoded elsewhere (``write(entity:operation:count:bytes:)``), in apply order.
struct ChangeBlockWriter {
    private let insert: FastStatement
    private var encoder = ChangeBlockEncoder()
    /// The first change of the block under way.
    private var first: RosterChange?
    /// The position of the next block's first change in the run's apply order.
    private var firstSeq = 0

    init(_ db: Database, runID: String) throws {
        insert = try FastStatement(db, """
            INSERT INTO sync_change_blocks (run_id, first_seq, entity, op, count, changes) VALUES (?, ?, ?, ?, ?, ?)
            """)
        insert.bind(1, runID)
    }

    mutating func add(_ change: RosterChange) throws {
        if let first, !ChangeBlocks.fits(change.operation, change.record.entity, after: (first.operation, first.record.entity),
                                         count: encoder.count) {
            try flush()
        }
        if first == nil { first = change }
        encoder.append(change)
    }

    /// Writes the block under way, if it holds any change.
    mutating func flush() throws {
        guard let first, encoder.count > 0 else { return }
        try write(entity: first.record.entity, operation: first.operation, count: encoder.count, bytes: encoder.bytes)
        encoder.reset()
        self.first = nil
    }

    /// Writes a block of `count` changes encoded elsewhere, next in apply order.
    mutating func write(entity: String, operation: RosterChange.Operation, count: Int, bytes: [UInt8]) throws {
        insert.bind(2, firstSeq)
        insert.bind(3, entity)
        insert.bind(4, operation.rawValue)
        insert.bind(5, count)
        insert.bind(6, bytes: bytes)
        try insert.run()
        firstSeq += count
    }
}

/// One stored block, as ``SQLiteTransaction/eachChangeBlock(runID:entity:operation:_:)`` hands it over.
struct StoredChangeBlock {
    let firstSeq: Int
    let entity: String
    let operation: RosterChange.Operation
    let count: Int
    let row: FastRow

    /// The block's encoded changes, in place in the row: valid only while the row is.
    var bytes: UnsafeRawBufferPointer { row.blob(4) }

    /// Decodes the block's changes (read from the row in place) until `body` returns false.
    func decode(with decoder: inout ChangeBlockDecoder, _ body: (RosterChange) throws -> Bool) throws {
        try decoder.decode(bytes, entity: entity, operation: operation, count: count, body)
    }
}
