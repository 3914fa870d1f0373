import Foundation
import RosterFlowCore

/// A text file a command reads (a CSV to import): not found (exit 66) when it cannot be read, bad input (exit 64) when
/// it is not UTF-8.
enum TextFile {
    static func read(_ path: String) throws -> String {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw RosterFlowError(.notFound, "cannot read \(path)")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw RosterFlowError(.invalidInput, "\(path) is not UTF-8 text; save it as CSV UTF-8")
        }
        return text
    }
}
