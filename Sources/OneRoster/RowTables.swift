import Foundation

/// The rows of one bundle file held in memory, each as its fields under `header`: what a source without files (a
/// OneRoster REST pull) hands to ``OneRosterBundleReader/read(version:modes:sourceSystemName:tables:held:visitor:)``
/// instead of writing CSV files and reading them back.
public struct RosterRowTable: Sendable {
    /// The column names, as a CSV file's header.
    public var header: [String]
    /// The rows, each with one value per header column. Row `k` (0-based) is reported as line `k + 2`, as if the
    /// table were a CSV file with one line per row under its header.
    public var rows: [[String]]

    /// A table.
    public init(header: [String], rows: [[String]]) {
        self.header = header
        self.rows = rows
    }
}

/// The rows of one bundle file handed over a batch at a time as they arrive (e.g. a page of a OneRoster REST pull), so
/// that the reader checks each batch, and hands its records on, while the source is still receiving the next.
public struct RosterRowStream {
    /// The column names, as a CSV file's header (the same for every batch).
    public var header: [String]
    /// How many rows are expected, when known (a hint for sizing; `0` when unknown).
    public var expectedRows: Int
    /// The next batch of rows (each with one value per header column), waiting for it; `nil` after the last batch.
    /// Throws when the source failed: the read then fails as a whole.
    public var next: () throws -> [[String]]?

    /// A stream of rows under `header`.
    public init(header: [String], expectedRows: Int = 0, next: @escaping () throws -> [[String]]?) {
        self.header = header
        self.expectedRows = expectedRows
        self.next = next
    }
}

/// Hands over the tables of an in-memory read one file at a time, in reading order (``OneRosterFile/rosteringFiles(in:)``).
/// It may wait until a file's rows are all there, so a source can still be receiving later files while earlier ones
/// are checked; a file may also be handed over as a stream of batches (``stream(for:)``), checked as they arrive.
public protocol RosterRowTables {
    /// The rows of `file`, or `nil` when the source has nothing for it after all (the file is then read as absent).
    /// Asked for only when ``stream(for:)`` answered `nil` for the file.
    func table(for file: OneRosterFile) throws -> RosterRowTable?
    /// The rows of `file` as a stream of batches, or `nil` to hand it over whole with ``table(for:)`` (the default).
    func stream(for file: OneRosterFile) throws -> RosterRowStream?
}

extension RosterRowTables {
    /// `nil`: every file is handed over whole.
    public func stream(for file: OneRosterFile) throws -> RosterRowStream? { nil }
}

extension OneRosterBundleReader {
    /// Reads and validates a bundle whose files are rows in memory, exactly as the same rows in CSV files would be
    /// read (the same checks, caps and issues; a row's quirks — a value with a line break or a NUL byte, a value or row
    /// over the caps — are found in its values), handing each valid record to `visitor` as it is validated.
    ///
    /// - Parameters:
    ///   - version: The OneRoster version the rows are.
    ///   - modes: The mode of each file the source has (the rest are absent), as a manifest would say.
    ///   - sourceSystemName: Kept as the manifest's `source.systemName`.
    ///   - tables: The rows of each file whose mode is not absent, asked for in reading order.
    ///   - held: Answers references the rows do not satisfy (see ``HeldSourcedIds``).
    ///   - visitor: Receives each valid record.
    public func read(version: OneRosterVersion, modes: [OneRosterFile: FileMode], sourceSystemName: String?,
                     tables: any RosterRowTables, held: any HeldSourcedIds = NoHeldSourcedIds(),
                     visitor: ((OneRosterRecord) throws -> Void)?) throws -> OneRosterBundle {
        let session = BundleReadSession(options: options, held: held, visitor: visitor)
        return try session.read(version: version, modes: modes, sourceSystemName: sourceSystemName, tables: tables)
    }
}

extension BundleReadSession {
    func read(version: OneRosterVersion, modes: [OneRosterFile: FileMode], sourceSystemName: String?,
              tables: any RosterRowTables) throws -> OneRosterBundle {
        self.version = version
        manifest.isPresent = true
        manifest.declaredVersion = version.rawValue
        manifest.manifestVersion = "1.0"
        manifest.sourceSystemName = sourceSystemName
        var fileModes: [String: FileMode] = [:]
        for file in OneRosterFile.files(in: version) { fileModes[file.rawValue] = modes[file] ?? .absent }
        manifest.fileModes = fileModes
        let present = Set(OneRosterFile.files(in: version).filter { fileModes[$0.rawValue] != .absent }.map(\.fileName))
        checkFiles(csvNames: present)

        let limits = options.limits
        for file in OneRosterFile.rosteringFiles(in: version) {
            let mode = manifest.mode(of: file)
            guard mode != .absent else { continue }
            if file == .demographics || file == .enrollments { try flushUsers() }
            if let stream = try tables.stream(for: file) {
                try readStream(file, stream, mode: mode)
                continue
            }
            guard let table = try tables.table(for: file) else {
                manifest.fileModes[file.rawValue] = .absent
                summaries[file.fileName] = nil
                continue
            }
            let name = file.fileName
            if table.header.count > limits.maxColumns {
                throw OneRosterBundleError.unreadableFile(
                    name, "its header has more than \(limits.maxColumns) columns, the most a file may have.",
                    "Send only the OneRoster fields of \(name) (and the metadata you need); if the data is genuine, set ROSTERFLOW_MAX_COLUMNS to raise the limit.")
            }
            let rows = table.rows
            var index = 0
            try readRows(file, header: table.header, headerLine: 1, mode: mode, expectedRows: rows.count) {
                guard index < rows.count else { return nil }
                let fields = rows[index]
                index += 1
                return ParsedCSVRows.Row(line: index + 1, quirks: Self.quirks(of: fields, limits: limits), fields: fields, badUTF8: [])
            }
        }
        try flushUsers()

        var properties = ["manifest.version": "1.0", "oneroster.version": version.rawValue]
        for (file, mode) in manifest.fileModes { properties["file." + file] = mode.rawValue }
        if let sourceSystemName { properties["source.systemName"] = sourceSystemName }
        manifest.properties = properties
        return finish()
    }

    /// Checks the rows of `file` batch by batch as `stream` hands them over (row `k` of the stream, 0-based, is line
    /// `k + 2`, as if the batches were one CSV file): each valid record goes to the visitor before the next batch is
    /// waited for.
    func readStream(_ file: OneRosterFile, _ stream: RosterRowStream, mode: FileMode) throws {
        let limits = options.limits
        if stream.header.count > limits.maxColumns {
            throw OneRosterBundleError.unreadableFile(
                file.fileName, "its header has more than \(limits.maxColumns) columns, the most a file may have.",
                "Send only the OneRoster fields of \(file.fileName) (and the metadata you need); if the data is genuine, set ROSTERFLOW_MAX_COLUMNS to raise the limit.")
        }
        var batch: [[String]] = []
        var position = 0
        var line = 1
        try readRows(file, header: stream.header, headerLine: 1, mode: mode, expectedRows: stream.expectedRows) {
            while position == batch.count {
                guard let more = try stream.next() else { return nil }
                batch = more
                position = 0
            }
            let fields = batch[position]
            position += 1
            line += 1
            return ParsedCSVRows.Row(line: line, quirks: Self.quirks(of: fields, limits: limits), fields: fields, badUTF8: [])
        }
    }

    /// What a CSV reader would have found reading `fields` as a row: a value with a line break or a NUL byte, a value
    /// or the row over the caps, more values than the caps allow.
    static func quirks(of fields: [String], limits: InputLimits) -> CSVRecordQuirks {
        var quirks: CSVRecordQuirks = []
        if fields.count > limits.maxColumns { quirks.insert(.tooManyFields) }
        var total = 0
        for field in fields {
            var field = field
            field.withUTF8 { bytes in
                total += bytes.count + 1
                if bytes.count > limits.maxFieldBytes { quirks.insert(.tooLong) }
                for byte in bytes where byte < 0x0E {
                    if byte == 0x0A || byte == 0x0D { quirks.insert(.lineBreakInField) } else if byte == 0 { quirks.insert(.nulByte) }
                }
            }
        }
        if total > limits.maxRowBytes { quirks.insert(.tooLong) }
        return quirks
    }
}
