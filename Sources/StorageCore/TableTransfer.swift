import Foundation

/// One stored value as it moves between engines (`rosterflow migrate-store`), typed by its column.
public enum StoreValue: Sendable, Equatable {
    case null
    case integer(Int64)
    case real(Double)
    case text(String)
    case blob(Data)
}

/// A column's type as both engines declare it.
public enum StoreColumnType: String, Sendable, Equatable {
    case integer, real, text, blob
}

/// One table of the schema, as a store copier reads and writes it: its columns in order, and the columns whose
/// order lists its rows deterministically (its primary key, else every column).
public struct StoreTable: Sendable, Equatable {
    public var name: String
    public var columns: [String]
    public var types: [StoreColumnType]
    public var orderBy: [String]

    public init(name: String, columns: [String], types: [StoreColumnType], orderBy: [String]) {
        self.name = name
        self.columns = columns
        self.types = types
        self.orderBy = orderBy
    }
}

/// A table's rows read one at a time, in ``StoreTable/orderBy`` order (bytewise for text).
public protocol StoreRowCursor: AnyObject {
    /// The next row's values, in the table's column order; nil after the last.
    func next() throws -> [StoreValue]?
}

/// A read-only view of a whole store for copying it elsewhere: every table, every row.
public protocol StoreTableReader {
    /// The schema's tables (RosterFlow's own; not the engine's bookkeeping), by name.
    func tables() throws -> [StoreTable]
    /// Every row of `table`, in its order.
    func rows(of table: StoreTable) throws -> any StoreRowCursor
}
