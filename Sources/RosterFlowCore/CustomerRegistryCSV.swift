import Foundation
import OneRoster
import StorageCore

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
        let (names, rows) = try SheetCSV.read(text, file: file, emptyHint: "it needs a header row: tenant_id,district,contact_email")
        var problems: [String] = []
        var index: [String: Int] = [:]
        for column in ["tenant_id", "district", "contact_email"] {
            if let i = names.firstIndex(of: column) { index[column] = i } else {
                problems.append("\(file):1: the header has no column '\(column)' (it has: \(names.joined(separator: ", ")))")
            }
        }
        guard problems.isEmpty else { throw RosterFlowError(.invalidInput, problems.joined(separator: "\n")) }
        var parsed: [Row] = []
        var seen: [String: Int] = [:]
        for record in rows {
            if SheetCSV.isBlank(record) { continue }
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
            if rowProblems.isEmpty { parsed.append(row) } else {
                problems += rowProblems.map { "\(file):\(record.line): \($0)" }
            }
        }
        guard problems.isEmpty else {
            throw RosterFlowError(
                .invalidInput, "nothing was imported; fix these and import again:\n" + problems.joined(separator: "\n"))
        }
        return parsed
    }
}

/// NUL bytes in names are removed, and reported: SQLite's C text binding, C libraries and terminals would otherwise cut
/// the value at the first one, silently.
enum NULWarning {
    /// A warning for `value` when it contains a NUL byte, naming it `what`.
    static func check(_ value: String, _ what: String) -> String? {
        guard value.utf8.contains(0) else { return nil }
        return "\(what) contained a NUL byte (\\u{0}), which was removed; check the value in the source"
    }

    /// `value` without its NUL bytes.
    static func strip(_ value: String) -> String {
        value.utf8.contains(0) ? String(value.unicodeScalars.filter { $0.value != 0 }.map(Character.init)) : value
    }
}

/// A check that an e-mail address is a plain addr-spec, `local@domain.tld`: a dot-atom local part (letters, digits and
/// ``EmailAddress/localSymbols``, dots not first, last or doubled) and a domain of at least two labels of letters,
/// digits and hyphens. No quoted local parts, comments, display names, spaces, control characters, query parts
/// (`?cc=`) or address literals: a contact address must be safe to put in a header and an SMTP envelope as it is.
enum EmailAddress {
    /// The ASCII symbols a local part may use (RFC 5322 atext without `?`, which only ever starts a query).
    static let localSymbols: Set<Character> = ["!", "#", "$", "%", "&", "'", "*", "+", "-", "/", "=", "^", "_", "`", "{", "|", "}", "~", "."]

    static func isPlausible(_ text: String) -> Bool {
        let parts = text.split(separator: "@", omittingEmptySubsequences: false)
        guard parts.count == 2, text.utf8.count <= 254 else { return false }
        let local = parts[0], domain = parts[1]
        guard !local.isEmpty, local.utf8.count <= 64, !local.hasPrefix("."), !local.hasSuffix("."), !local.contains(".."),
              local.allSatisfy({ isWordCharacter($0) || localSymbols.contains($0) })
        else { return false }
        let labels = domain.split(separator: ".", omittingEmptySubsequences: false)
        guard labels.count >= 2, domain.utf8.count <= 253 else { return false }
        return labels.allSatisfy { label in
            !label.isEmpty && label.utf8.count <= 63 && !label.hasPrefix("-") && !label.hasSuffix("-")
                && label.allSatisfy { isWordCharacter($0) || $0 == "-" }
        }
    }

    /// An ASCII letter or digit, or a non-ASCII letter or digit (internationalised addresses).
    private static func isWordCharacter(_ character: Character) -> Bool {
        guard character.unicodeScalars.count == 1, let scalar = character.unicodeScalars.first else { return false }
        if scalar.isASCII { return character.isLetter || character.isNumber }
        return scalar.properties.isAlphabetic || scalar.properties.numericType != nil
    }
}
