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

/// Hands over the tables of an in-memory read one file at a time, in reading order (``OneRosterFile/rosteringFiles(in:)``).
/// It may wait until a file's rows are all there, so a source can still be receiving later files while earlier ones
/// are checked.
public protocol RosterRowTables {
    /// The rows of `file`, or `nil` when the source has nothing for it after all (the file is then read as absent).
    func table(for file: OneRosterFile) throws -> RosterRowTable?
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
