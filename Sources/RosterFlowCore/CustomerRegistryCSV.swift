import Foundation
import Storage

/// Reads the customer registry CSV: a header row naming at least `tenant_id`, `district` and `contact_email`
/// (any order, other columns ignored), RFC 4180 quoting, UTF-8 with or without BOM.
enum CustomerRegistryCSV {
    struct Row {
        var line: Int
        var tenantID: String
        var district: String
        var contactEmail: String
    }

    /// Parses the file; every problem is reported together, with its line, and nothing is imported if any.
    static func parse(_ text: String, file: String) throws -> [Row] {
        let records = try CSVText.records(text, file: file)
        guard let header = records.first else {
            throw RosterFlowError(.invalidInput, "\(file) is empty; it needs a header row: tenant_id,district,contact_email")
        }
        let names = header.fields.map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
        var problems: [String] = []
        var index: [String: Int] = [:]
        for column in ["tenant_id", "district", "contact_email"] {
            if let i = names.firstIndex(of: column) { index[column] = i } else {
                problems.append("\(file):1: the header has no column '\(column)' (it has: \(names.joined(separator: ", ")))")
            }
        }
        guard problems.isEmpty else { throw RosterFlowError(.invalidInput, problems.joined(separator: "\n")) }
        var rows: [Row] = []
        var seen: [String: Int] = [:]
        for record in records.dropFirst() {
            if record.fields.allSatisfy({ $0.trimmingCharacters(in: .whitespaces).isEmpty }) { continue }
            func value(_ column: String) -> String {
                let i = index[column]!
                return i < record.fields.count ? record.fields[i].trimmingCharacters(in: .whitespaces) : ""
            }
            let row = Row(line: record.line, tenantID: value("tenant_id"), district: value("district"),
                          contactEmail: value("contact_email"))
            var rowProblems: [String] = []
            if row.tenantID.isEmpty { rowProblems.append("tenant_id is empty") }
            if row.district.isEmpty { rowProblems.append("district is empty") }
            if !EmailAddress.isPlausible(row.contactEmail) {
                rowProblems.append("contact_email '\(row.contactEmail)' is not an e-mail address")
            }
            if let first = seen[row.tenantID], !row.tenantID.isEmpty {
                rowProblems.append("tenant_id '\(row.tenantID)' already appears on line \(first)")
            }
            seen[row.tenantID] = seen[row.tenantID] ?? record.line
            if rowProblems.isEmpty { rows.append(row) } else {
                problems += rowProblems.map { "\(file):\(record.line): \($0)" }
            }
        }
        guard problems.isEmpty else {
            throw RosterFlowError(
                .invalidInput, "nothing was imported; fix these and import again:\n" + problems.joined(separator: "\n"))
        }
        return rows
    }
}

/// A minimal RFC 4180 reader for small operator files (not for OneRoster bundles, which have their own reader).
enum CSVText {
    struct Record {
        var line: Int
        var fields: [String]
    }

    static func records(_ text: String, file: String) throws -> [Record] {
        var records: [Record] = []
        var fields: [String] = []
        var field = ""
        var inQuotes = false
        var line = 1
        var recordLine = 1
        var afterQuote = false
        var scalars = text.unicodeScalars[...]
        if scalars.first == "\u{FEFF}" { scalars = scalars.dropFirst() }
        var iterator = scalars.makeIterator()
        var pending: Unicode.Scalar? = nil
        func next() -> Unicode.Scalar? {
            if let p = pending { pending = nil; return p }
            return iterator.next()
        }
        while let c = next() {
            if inQuotes {
                if c == "\"" {
                    if let n = next() {
                        if n == "\"" { field.unicodeScalars.append("\"") } else { inQuotes = false; afterQuote = true; pending = n }
                    } else { inQuotes = false }
                } else {
                    if c == "\n" { line += 1 }
                    field.unicodeScalars.append(c)
                }
                continue
            }
            switch c {
            case "\"" where field.isEmpty && !afterQuote:
                inQuotes = true
            case ",":
                fields.append(field); field = ""; afterQuote = false
            case "\r":
                break
            case "\n":
                fields.append(field); field = ""; afterQuote = false
                records.append(Record(line: recordLine, fields: fields)); fields = []
                line += 1; recordLine = line
            default:
                field.unicodeScalars.append(c)
            }
        }
        if inQuotes {
            throw RosterFlowError(.invalidInput, "\(file):\(recordLine): a quoted field is never closed (missing \")")
        }
        if !field.isEmpty || !fields.isEmpty {
            fields.append(field)
            records.append(Record(line: recordLine, fields: fields))
        }
        return records
    }
}

/// A plausibility check for e-mail addresses (something@domain.tld), not a full RFC 5322 parser.
enum EmailAddress {
    static func isPlausible(_ text: String) -> Bool {
        let parts = text.split(separator: "@", omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[0].isEmpty, parts[1].contains("."), !parts[1].hasPrefix("."), !parts[1].hasSuffix("."),
              !text.contains(where: { $0.isWhitespace || $0 == "," || $0 == "<" || $0 == ">" })
        else { return false }
        return true
    }
}
