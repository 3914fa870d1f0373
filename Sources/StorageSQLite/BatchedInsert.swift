import GRDB
import StorageCore

/// An `INSERT` of many rows that runs ``batch`` rows a statement (one step, reset and cursor seek from the B-tree's root
/// for all of them), the rows left at the end one by one: the bulk writes of a first sync or a rollover, millions of rows.
///
/// `sql` is the statement up to `VALUES`; `row` one row's placeholders, where `?1`…`?shared` are values every row shares
/// (bound once with ``bindShared(_:_:)``) and each anonymous `?` is a row's own, `width` of them, bound by `bind` at
/// the offset it is given. The shared ones must come first in `row`: SQLite numbers an anonymous `?` one past the
/// largest number seen so far, so a `?2` after one would name the same parameter.
struct BatchedInsert<Row> {
    static var batch: Int { 64 }

    private let one: FastStatement
    private let many: FastStatement
    private let width: Int32
    private let bind: (FastStatement, Int32, Row) -> Void
    private var pending: [Row] = []

    init(_ db: Database, sql: String, row: String, shared: Int32, width: Int32,
         bind: @escaping (_ statement: FastStatement, _ offset: Int32, _ row: Row) -> Void) throws {
        one = try FastStatement(db, sql + " VALUES " + row)
        many = try FastStatement(db, sql + " VALUES " + repeatElement(row, count: Self.batch).joined(separator: ", "))
        self.width = width
        self.bind = { statement, offset, row in bind(statement, shared + offset, row) }
        pending.reserveCapacity(Self.batch)
    }

    /// Binds parameter `index` (one of the shared `?1`…) in both statements, once.
    func bindShared(_ index: Int32, _ text: String) {
        one.bind(index, text)
        many.bind(index, text)
    }

    /// Queues a row; a full batch is written.
    mutating func add(_ row: Row) throws {
        pending.append(row)
        if pending.count == Self.batch { try flush() }
    }

    /// Writes every queued row (a full batch in one statement, fewer one by one).
    mutating func flush() throws {
        if pending.count == Self.batch {
            var offset: Int32 = 0
            for row in pending {
                bind(many, offset, row)
                offset += width
            }
            try many.run()
        } else {
            for row in pending {
                bind(one, 0, row)
                try one.run()
            }
        }
        pending.removeAll(keepingCapacity: true)
    }

    /// Whether rows are queued and not written yet.
    var isEmpty: Bool { pending.isEmpty }
}

extension FastStatement {
    /// Binds a record's `sourced_id, digest, ref1, ref2, ref3, title`, in that order, from parameter `first` on.
    func bindKeyAndReferences(of record: RosterRecord, at first: Int32) {
        bind(first, record.sourcedID)
        bind(first + 1, Int(record.digest))
        bind(first + 2, record.ref1)
        bind(first + 3, record.ref2)
        bind(first + 4, record.ref3)
        bind(first + 5, record.title)
    }
}
