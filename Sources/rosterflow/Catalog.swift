import ArgumentParser
import Foundation
import RosterFlowCore

extension RosterFlowCommand {
    struct Catalog: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "The vendor's course catalog: what school courses are mapped to.",
            subcommands: [Import.self, List.self, Show.self, Version.self])

        struct Import: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Import catalog courses from CSV (base_id, title; optional subject, grades, status, version, "
                    + "previous_base_id; all rows or none).")
            @OptionGroup var options: StoreOptions
            @Argument(help: "The CSV file.") var file: String

            func run() async throws {
                try await Output.run(json: options.json) {
                    let text = try TextFile.read(file)
                    let result = try await options.open().importCatalog(csv: text, file: file, actor: options.actor)
                    try Output.emit(result, json: options.json) {
                        (["imported the catalog: \($0.added) new, \($0.updated) changed, \($0.unchanged) unchanged"]
                            + ($0.warnings ?? []).map { "warning: \($0)" }).joined(separator: "\n")
                    }
                }
            }
        }

        struct List: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Catalog courses offered for mapping (with --all, retired ones too).")
            @OptionGroup var options: StoreOptions
            @Flag(help: "Retired courses too.") var all = false

            func run() async throws {
                try await Output.run(json: options.json) {
                    let courses = try options.open().catalog(includeRetired: all)
                    try Output.emit(courses, json: options.json) { list in
                        list.isEmpty ? "the catalog is empty; `rosterflow catalog import FILE` imports it" : list.map {
                            "\($0.baseID)\t\($0.title)\tv\($0.version)\t\($0.status)\t\($0.subject ?? "-")\t"
                                + "\($0.grades.isEmpty ? "-" : $0.grades.joined(separator: ","))\t\($0.mappedCourses) mapped, \($0.lockedCourses) locked"
                        }.joined(separator: "\n")
                    }
                }
            }
        }

        struct Show: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "One catalog course: its versions and the school courses mapped to it.")
            @OptionGroup var options: StoreOptions
            @Argument(help: "Base id.") var baseId: String

            func run() async throws {
                try await Output.run(json: options.json) {
                    try Output.emit(try options.open().catalogCourse(baseID: baseId), json: options.json, text: Text.catalogCourse)
                }
            }
        }

        struct Version: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Make the next version of a catalog course (how a locked course gets new content: its students keep "
                    + "the old version, courses mapped from now on take the new one).")
            @OptionGroup var options: StoreOptions
            @Argument(help: "Base id of the version to succeed.") var baseId: String
            @Option(name: .customLong("base-id"), help: "The new version's base id (default: BASE-vN).") var newBaseID: String?
            @Option(help: "The new version's title (default: the old one's).") var title: String?
            @Flag(help: "Stop offering the old version for new mappings.") var retirePrevious = false

            func run() async throws {
                try await Output.run(json: options.json) {
                    let view = try await options.open().newCatalogVersion(
                        of: baseId, newBaseID: newBaseID, title: title, retirePrevious: retirePrevious, actor: options.actor)
                    try Output.emit(view, json: options.json, text: Text.catalogCourse)
                }
            }
        }
    }
}

extension Text {
    static func catalogCourse(_ c: CatalogCourseView) -> String {
        var lines = [
            "\(c.baseID)  \(c.title)  version \(c.version)  [\(c.status)]",
            "  subject: \(c.subject ?? "-")   grades: \(c.grades.isEmpty ? "-" : c.grades.joined(separator: ", "))",
            "  mapped from \(c.mappedCourses) school course(s), \(c.lockedCourses) locked",
        ]
        if let previous = c.previousBaseID { lines.append("  succeeds \(previous)") }
        if let successors = c.successors, !successors.isEmpty { lines.append("  newer versions: \(successors.joined(separator: ", "))") }
        return lines.joined(separator: "\n")
    }
}
