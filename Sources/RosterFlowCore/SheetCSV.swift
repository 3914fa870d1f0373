import OneRoster

/// The start every spreadsheet RosterFlow reads shares (the customer registry, the vendor catalog, the course map):
/// RFC 4180 records, an unclosed quote refused with its line, and the header's column names, trimmed and lower-cased.
enum SheetCSV {
    /// The file's records after the header, and the header's names.
    ///
    /// - Parameter emptyHint: what to say when the file is empty (what its header should be, or how to get one).
    static func read(_ text: String, file: String, emptyHint: String) throws -> (names: [String], rows: ArraySlice<CSVRecord>) {
        let records: [CSVRecord]
        do {
            records = try CSVRecordReader(string: text).readAll()
        } catch {
            throw RosterFlowError(.invalidInput, "\(file): \(error)")
        }
        if let open = records.first(where: { $0.quirks.contains(.unterminatedQuote) }) {
            throw RosterFlowError(.invalidInput, "\(file):\(open.line): a quoted field is never closed (missing \")")
        }
        guard let header = records.first else { throw RosterFlowError(.invalidInput, "\(file) is empty; \(emptyHint)") }
        return (header.fields.map { $0.trimmingCharacters(in: .whitespaces).lowercased() }, records.dropFirst())
    }

    /// Whether a record is blank (every field empty once trimmed): such rows are skipped.
    static func isBlank(_ record: CSVRecord) -> Bool {
        record.fields.allSatisfy { $0.trimmingCharacters(in: .whitespaces).isEmpty }
    }
}
