import Foundation

/// The one normaliser of course titles, used wherever two titles are compared: the catalog matcher's suggestions
/// (``CatalogMatcher``) and a school-year rollover's carry-forward (``Rollover``), so that a title counts as the same in
/// both places.
enum CourseTitle {
    /// Title words that say nothing about which course it is.
    static let noise: Set<String> = [
        "the", "and", "of", "course", "class", "sem", "semester", "s1", "s2", "a", "b", "an", "to", "for", "grade", "gr",
    ]
    /// Roman numerals I–V, read as digits ("Algebra I" and "ALGEBRA 1" are one title).
    static let romans = ["i": "1", "ii": "2", "iii": "3", "iv": "4", "v": "5"]

    /// A title's words: lower case, accents folded, split at anything but letters and digits, Roman numerals I–V as
    /// digits, without noise words and without school-year tokens (a year `2026`, and the `26` of `2025-26`).
    static func words(_ title: String) -> [String] {
        let folded = title.folding(options: [.caseInsensitive, .diacriticInsensitive], locale: Locale(identifier: "en_US_POSIX"))
            .lowercased()
        let parts = folded.split(whereSeparator: { !$0.isLetter && !$0.isNumber }).map(String.init)
        var kept: [String] = []
        kept.reserveCapacity(parts.count)
        var lastYear: Int?
        for word in parts {
            defer { lastYear = word.count == 4 ? Int(word).flatMap { (1990...2100).contains($0) ? $0 : nil } : nil }
            if word.count == 4, let year = Int(word), (1990...2100).contains(year) { continue }
            if word.count == 2, let end = Int(word), let start = lastYear, end == (start + 1) % 100 { continue }
            let word = romans[word] ?? word
            if noise.contains(word) { continue }
            kept.append(word)
        }
        return kept
    }

    /// The normalised title (its ``words(_:)`` joined by single spaces); nil when no word is left.
    static func normalised(_ title: String) -> String? {
        let kept = words(title)
        return kept.isEmpty ? nil : kept.joined(separator: " ")
    }
}
