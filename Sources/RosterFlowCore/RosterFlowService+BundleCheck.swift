import Foundation
import OneRoster

/// One problem an export check found, with its fix, for people.
public struct BundleCheckProblem: Sendable, Equatable, Codable {
    /// `error`, `warning` or `info`.
    public var severity: String
    /// The stable issue code (`missing-column`, `dangling-reference`, …).
    public var code: String
    /// The file and line, e.g. `users.csv:12`.
    public var location: String
    public var message: String
    public var fix: String
}

/// What checking an export found: counts and the problems, each with its fix.
public struct BundleCheck: Sendable, Equatable, Codable {
    public var errorCount: Int
    public var warningCount: Int
    /// At most `limit` problems, errors first.
    public var problems: [BundleCheckProblem]
}

extension RosterFlowService {
    /// Checks a OneRoster export (a zip's bytes) the way a sync would read it, without storing anything: the bytes go to
    /// a private temporary file that is removed before this returns, and no record is kept in memory.
    ///
    /// - Throws: ``RosterFlowError/Code/invalidInput`` when the bytes are not a readable zip bundle.
    public static func checkBundle(zip data: Data, limit: Int = 200) throws -> BundleCheck {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("rosterflow-check-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
        defer { try? FileManager.default.removeItem(at: folder) }
        let file = folder.appendingPathComponent("bundle.zip")
        try data.write(to: file)
        let report: ValidationReport
        do {
            report = try OneRosterBundleReader(options: .init(retainRecords: false)).read(at: file).report
        } catch {
            throw RosterFlowError(.invalidInput, "this file cannot be read as a OneRoster bundle (a .zip of CSV files with a manifest.csv): \(error)")
        }
        return BundleCheck(report, limit: limit)
    }
}

extension BundleCheck {
    /// The counts and the first `limit` problems of a validation report, errors first.
    public init(_ report: ValidationReport, limit: Int = 200) {
        errorCount = report.errorCount
        warningCount = report.warningCount
        let order: [Severity] = [.error, .warning, .info]
        problems = report.issues.sorted { (order.firstIndex(of: $0.severity) ?? 3) < (order.firstIndex(of: $1.severity) ?? 3) }
            .prefix(limit).map { issue in
                BundleCheckProblem(
                    severity: issue.severity.rawValue, code: issue.code.rawValue,
                    location: issue.file + (issue.line.map { ":\($0)" } ?? ""), message: issue.message, fix: issue.fix)
            }
    }
}
