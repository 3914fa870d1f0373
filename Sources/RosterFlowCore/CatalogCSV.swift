import Foundation
import OneRoster
import StorageCore

/// Reads the vendor catalog CSV: a header naming at least `base_id` and `title`, optionally `subject`, `grades`
/// (grade levels separated by `,` `;` or spaces, e.g. `09 10`), `status` (`active`, the default, or `retired`),
/// `version` and `previous_base_id`. Any column order, other columns ignored, RFC 4180 quoting, UTF-8 with or without a BOM.
enum CatalogCSV {
    struct Row: Equatable {
        var line: Int
        var baseID: String
        var title: String
        var subject: String?
        var grades: [String]
        var status: CatalogStatus
        var version: Int
        var previousBaseID: String?
    }

    static let required = ["base_id", "title"]
    static let optional = ["subject", "grades", "status", "version", "previous_base_id"]

    /// Grade levels OneRoster uses (CEDS); anything else in `grades` is refused with the list.
    static let gradeLevels: Set<String> = [
        "IT", "PR", "PK", "TK", "KG", "01", "02", "03", "04", "05", "06", "07", "08", "09", "10", "11", "12", "13", "PS", "UG",
        "Other",
    ]

    /// Parses the file; every problem is reported together with its line, and nothing is imported if there is any.
    /// `known` says whether a base id is already in the catalog (for `previous_base_id`).
    static func parse(_ text: String, file: String, known: (String) -> Bool) throws -> [Row] {
        let (names, records) = try SheetCSV.read(text, file: file, emptyHint: "it needs a header row: base_id,title,subject,grades,status")
        var index: [String: Int] = [:]
        var problems: [String] = []
        for column in required {
            if let i = names.firstIndex(of: column) { index[column] = i } else {
                problems.append("\(file):1: the header has no column '\(column)' (it has: \(names.joined(separator: ", ")))")
            }
        }
        for column in optional { if let i = names.firstIndex(of: column) { index[column] = i } }
        guard problems.isEmpty else { throw RosterFlowError(.invalidInput, problems.joined(separator: "\n")) }

        var rows: [Row] = []
        var seen: [String: Int] = [:]
        for record in records {
            if SheetCSV.isBlank(record) { continue }
            func value(_ column: String) -> String {
                guard let i = index[column], i < record.fields.count else { return "" }
                return record.fields[i].trimmingCharacters(in: .whitespaces)
            }
            var rowProblems: [String] = []
            let baseID = value("base_id"), title = value("title")
            if baseID.isEmpty { rowProblems.append("base_id is empty") }
            if title.isEmpty { rowProblems.append("title is empty") }
            if let first = seen[baseID], !baseID.isEmpty {
                rowProblems.append("base_id '\(baseID)' already appears on line \(first): each catalog course needs its own base id")
            }
            if !baseID.isEmpty { seen[baseID] = seen[baseID] ?? record.line }
            let statusText = value("status").lowercased()
            let status = statusText.isEmpty ? CatalogStatus.active : CatalogStatus(rawValue: statusText)
            if status == nil { rowProblems.append("status '\(value("status"))' is neither 'active' nor 'retired'") }
            let versionText = value("version")
            let version = versionText.isEmpty ? 1 : Int(versionText)
            if version == nil || version! < 1 { rowProblems.append("version '\(versionText)' is not a whole number from 1 up") }
            let grades = value("grades").split(whereSeparator: { $0 == "," || $0 == ";" || $0 == " " }).map { grade -> String in
                let text = String(grade)
                // 9 → 09: spreadsheets drop the leading zero.
                if text.count == 1, text.first!.isNumber { return "0" + text }
                return text
            }
            let unknownGrades = grades.filter { !gradeLevels.contains($0) }
            if !unknownGrades.isEmpty {
                rowProblems.append(
                    "grades '\(unknownGrades.joined(separator: ", "))' are not OneRoster grade levels (use KG, 01 … 12, PK, …)")
            }
            let previous = value("previous_base_id")
            if !previous.isEmpty, previous == baseID { rowProblems.append("previous_base_id names the course itself") }
            let subject = value("subject")
            if rowProblems.isEmpty {
                rows.append(Row(
                    line: record.line, baseID: baseID, title: title, subject: subject.isEmpty ? nil : subject, grades: grades,
                    status: status!, version: version!, previousBaseID: previous.isEmpty ? nil : previous))
            } else {
                problems += rowProblems.map { "\(file):\(record.line): \($0)" }
            }
        }
        // A successor must name a course that exists: in this file or already in the catalog.
        let inFile = Set(rows.map(\.baseID))
        for row in rows {
            if let previous = row.previousBaseID, !inFile.contains(previous), !known(previous) {
                problems.append(
                    "\(file):\(row.line): previous_base_id '\(previous)' is neither in this file nor in the catalog")
            }
        }
        guard problems.isEmpty else {
            throw RosterFlowError(
                .invalidInput, "nothing was imported; fix these and import again:\n" + problems.sorted(by: Self.byLine).joined(separator: "\n"))
        }
        return rows
    }

    /// Orders `file:line: …` problems by line number.
    private static func byLine(_ a: String, _ b: String) -> Bool {
        func line(_ text: String) -> Int {
            let parts = text.split(separator: ":", maxSplits: 2)
            return parts.count > 1 ? Int(parts[1]) ?? 0 : 0
        }
        return (line(a), a) < (line(b), b)
    }
}

/// Ranks catalog courses for a school course by how alike their titles are, with the evidence for each.
enum CatalogMatcher {
    /// A title's words as ``CourseTitle`` normalises them (the rollover's carry-forward too): lower case, no
    /// punctuation, accents or noise words, Roman numerals as digits (so "Algebra 1" and "ALGEBRA I" match).
    static func words(_ title: String) -> [String] { CourseTitle.words(title) }

    /// The normalised title: its words joined by single spaces.
    static func normalised(_ title: String) -> String { CourseTitle.normalised(title) ?? "" }

    /// Grade levels a school course title names ("Grade 9", "9th grade", "Kindergarten").
    static func grades(inTitle title: String) -> Set<String> {
        let cleaned = String(title.lowercased().map { (c: Character) -> Character in c.isLetter || c.isNumber ? c : " " })
        let words: [String] = cleaned.split(separator: " ").map(String.init)
        var found: Set<String> = []
        for (index, word) in words.enumerated() {
            if word == "kindergarten" || (word == "k" && index > 0 && words[index - 1] == "grade") { found.insert("KG") }
            let digits = word.prefix { $0.isNumber }
            guard let number = Int(digits), (1...12).contains(number) else { continue }
            let suffix = word.dropFirst(digits.count)
            let gradeBefore = index > 0 && words[index - 1] == "grade"
            let gradeAfter = index + 1 < words.count && words[index + 1] == "grade"
            if gradeBefore || (["st", "nd", "rd", "th"].contains(String(suffix)) && gradeAfter) {
                found.insert(number < 10 ? "0\(number)" : "\(number)")
            }
        }
        return found
    }

    /// Up to `limit` catalog courses for `title`, best first; only those sharing at least one word.
    static func suggestions(for title: String, in catalog: [CatalogCourseRecord], limit: Int) -> [CatalogSuggestion] {
        let mine = Set(words(title))
        let myNormalised = normalised(title)
        let myGrades = grades(inTitle: title)
        var ranked: [CatalogSuggestion] = []
        for course in catalog where course.status == .active {
            let theirs = Set(words(course.title))
            let shared = mine.intersection(theirs)
            guard !shared.isEmpty else { continue }
            var evidence: [String] = []
            var score: Double
            if normalised(course.title) == myNormalised {
                score = 1
                evidence.append("same title once case, punctuation and numerals are set aside")
            } else {
                score = Double(shared.count) / Double(mine.union(theirs).count)
                evidence.append("title words in common: \(shared.sorted().joined(separator: ", "))")
            }
            if let subject = course.subject, mine.contains(where: { words(subject).contains($0) }) {
                score += 0.1
                evidence.append("the school title names its subject (\(subject))")
            }
            if !myGrades.isEmpty, !course.grades.isEmpty {
                if myGrades.isSubset(of: Set(course.grades)) {
                    score += 0.1
                    evidence.append("grades match (\(myGrades.sorted().joined(separator: ", ")))")
                } else {
                    score -= 0.2
                    evidence.append(
                        "grades differ: the school course is for \(myGrades.sorted().joined(separator: ", ")), the catalog course for "
                            + course.grades.joined(separator: ", "))
                }
            }
            ranked.append(CatalogSuggestion(
                baseID: course.baseID, title: course.title, subject: course.subject, grades: course.grades,
                score: (score * 100).rounded() / 100, evidence: evidence))
        }
        return Array(ranked.sorted { ($1.score, $0.title, $0.baseID) < ($0.score, $1.title, $1.baseID) }.prefix(limit))
    }
}

/// A catalog course proposed for a school course, with why.
public struct CatalogSuggestion: Sendable, Codable, Equatable {
    public var baseID: String
    public var title: String
    public var subject: String?
    public var grades: [String]
    /// 0 … about 1.2: 1 for the same normalised title, plus a little for a named subject or matching grades.
    public var score: Double
    public var evidence: [String]
}
