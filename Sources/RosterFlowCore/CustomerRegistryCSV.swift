import Foundation
import OneRoster
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
        let records: [CSVRecord]
        do {
            records = try CSVRecordReader(string: text).readAll()
        } catch {
            throw RosterFlowError(.invalidInput, "\(file): \(error)")
        }
        if let open = records.first(where: { $0.quirks.contains(.unterminatedQuote) }) {
            throw RosterFlowError(.invalidInput, "\(file):\(open.line): a quoted field is never closed (missing \")")
        }
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
