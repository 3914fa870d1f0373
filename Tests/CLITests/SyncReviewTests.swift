import Foundation
import XCTest

/// `rosterflow sync show RUN --changes` on a held run, through the real binary: every deleted user with their names,
/// updates with the fields they change, paging, filters, CSV and JSON; the on-hold task and the hold's mail name the run.
final class SyncReviewTests: XCTestCase {
    var folder: String!
    var database: String { folder + "/review.sqlite" }

    override func setUpWithError() throws {
        folder = NSTemporaryDirectory() + "rosterflow-review-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    }

    @discardableResult
    func run(_ arguments: [String], expect: Int32? = 0, file: StaticString = #filePath, line: UInt = #line) throws -> CLITests.Result {
        let result = try Binary.run(
            arguments, environment: ["ROSTERFLOW_DB": database, "ROSTERFLOW_WORKFLOWS": CLITests.workflows], in: folder)
        if let expect {
            XCTAssertEqual(result.status, expect, "rosterflow \(arguments.joined(separator: " ")): \(result.stderr)", file: file, line: line)
        }
        return result
    }

    @discardableResult
    func rosterflow(_ arguments: String..., expect: Int32? = 0, file: StaticString = #filePath, line: UInt = #line) throws -> CLITests.Result {
        try run(arguments, expect: expect, file: file, line: line)
    }

    func json(_ arguments: String..., file: StaticString = #filePath, line: UInt = #line) throws -> [String: Any] {
        try run(arguments + ["--json"], file: file, line: line).json()
    }

    /// Reads a CSV file's rows (for the bundle's files, written with `\n` line ends).
    func readCSV(_ path: String) throws -> [[String]] {
        try Self.parseCSV(String(contentsOfFile: path, encoding: .utf8))
    }

    func writeCSV(_ path: String, _ rows: [[String]]) throws {
        try rows.map { $0.map(Self.quote).joined(separator: ",") }.joined(separator: "\n").appending("\n")
            .write(toFile: path, atomically: true, encoding: .utf8)
    }

    static func quote(_ field: String) -> String {
        field.contains(where: { ",\"\n\r".contains($0) }) ? "\"" + field.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : field
    }

    /// An RFC 4180 parser: quoted fields with doubled quotes, commas and line breaks; CRLF or LF line ends.
    static func parseCSV(_ text: String) -> [[String]] {
        var rows: [[String]] = [], row: [String] = [], field = "", quoted = false, wasQuoted = false
        var chars = Array(text.unicodeScalars)[...]
        while let c = chars.popFirst() {
            if quoted {
                if c == "\"" {
                    if chars.first == "\"" { chars.removeFirst(); field.unicodeScalars.append("\"") } else { quoted = false }
                } else {
                    field.unicodeScalars.append(c)
                }
            } else if c == "\"" {
                quoted = true
                wasQuoted = true
            } else if c == "," {
                row.append(field); field = ""; wasQuoted = false
            } else if c == "\r" || c == "\n" {
                if c == "\r", chars.first == "\n" { chars.removeFirst() }
                row.append(field); rows.append(row); row = []; field = ""; wasQuoted = false
            } else {
                field.unicodeScalars.append(c)
            }
        }
        if !field.isEmpty || wasQuoted || !row.isEmpty { row.append(field); rows.append(row) }
        return rows
    }

    /// A scheduled integration holding a generated district (200 users, 800 enrollments); returns its id and bundle.
    func districtWithFirstSync() throws -> (id: String, bundle: String) {
        let registry = folder + "/customers.csv"
        try "tenant_id,district,contact_email\nt1,Springfield USD,it@springfield.example\n".write(toFile: registry, atomically: true, encoding: .utf8)
        try rosterflow("customers", "import", registry)
        let id = try XCTUnwrap(try json(
            "integrations", "request", "--tenant", "t1", "--district", "Springfield USD", "--permission", "full",
            "--contact", "it@springfield.example")["id"] as? String)
        try rosterflow("integrations", "authenticate", id)
        try rosterflow("integrations", "schedule", id, "--time", "02:00", "--timezone", "UTC")
        let bundle = folder + "/b1"
        try rosterflow("sample-bundle", bundle, "--users", "200", "--classes", "10", "--enrollments", "800")
        XCTAssertEqual(try json("sync", "run", "--integration", id, "--bundle", bundle)["decision"] as? String, "applied")
        return (id, bundle)
    }

    struct Edited {
        var bundle: String
        /// sourcedId → (given name, family name, username, e-mail) of each dropped user.
        var dropped: [String: [String]]
        var droppedEnrollments: Set<String>
        var emailChanged: String
        var nameChanged: String
        var rekeyed: (old: String, new: String, name: String)
    }

    /// A copy of the bundle that omits 30 of 200 users (15%, over the 10% limit) and their enrollments, changes one
    /// user's e-mail and another's given name (to one with a comma and quotes), and re-keys a third user.
    func editedBundle(_ original: String) throws -> Edited {
        let bundle = folder + "/b2"
        try FileManager.default.copyItem(atPath: original, toPath: bundle)
        var users = try readCSV(bundle + "/users.csv")
        let header = users[0]
        let col = { (name: String) in header.firstIndex(of: name)! }
        var dropped: [String: [String]] = [:]
        for row in users.suffix(30) {
            dropped[row[col("sourcedId")]] = [row[col("givenName")], row[col("familyName")], row[col("username")], row[col("email")]]
        }
        users.removeLast(30)
        users[1][col("email")] = "changed.address@springfield.example"
        users[2][col("givenName")] = #"Ann "Annie", Jr"#
        let oldID = users[3][col("sourcedId")]
        let rekeyed = (old: oldID, new: oldID + "-new", name: users[3][col("givenName")] + " " + users[3][col("familyName")])
        users[3][col("sourcedId")] = rekeyed.new
        try writeCSV(bundle + "/users.csv", users)

        var enrollments = try readCSV(bundle + "/enrollments.csv")
        let user = enrollments[0].firstIndex(of: "userSourcedId")!
        let droppedEnrollments = Set(enrollments.dropFirst().filter { dropped[$0[user]] != nil }.map { $0[0] })
        enrollments = enrollments.filter { !droppedEnrollments.contains($0[0]) }
        for i in enrollments.indices where enrollments[i][user] == oldID { enrollments[i][user] = rekeyed.new }
        try writeCSV(bundle + "/enrollments.csv", enrollments)
        if FileManager.default.fileExists(atPath: bundle + "/roles.csv") {
            var roles = try readCSV(bundle + "/roles.csv")
            let roleUser = roles[0].firstIndex(of: "userSourcedId")!
            roles = roles.filter { dropped[$0[roleUser]] == nil }
            for i in roles.indices where roles[i][roleUser] == oldID { roles[i][roleUser] = rekeyed.new }
            try writeCSV(bundle + "/roles.csv", roles)
        }
        return Edited(bundle: bundle, dropped: dropped, droppedEnrollments: droppedEnrollments,
                      emailChanged: users[1][col("sourcedId")], nameChanged: users[2][col("sourcedId")], rekeyed: rekeyed)
    }

    /// Every item of a listing, following `nextOffset` page by page; checks each page's total and offset.
    func allPages(_ run: String, _ filters: [String], limit: Int, file: StaticString = #filePath, line: UInt = #line) throws
        -> (total: Int, items: [[String: Any]], pages: Int) {
        var items: [[String: Any]] = [], offset = 0, pages = 0, total = -1
        while true {
            let page = try self.run(
                ["sync", "show", run, "--changes"] + filters + ["--limit", String(limit), "--offset", String(offset), "--json"],
                file: file, line: line).json()
            pages += 1
            let pageTotal = try XCTUnwrap(page["total"] as? Int, file: file, line: line)
            if total >= 0 { XCTAssertEqual(pageTotal, total, "every page gives the same total", file: file, line: line) }
            total = pageTotal
            XCTAssertEqual(page["offset"] as? Int, offset, file: file, line: line)
            XCTAssertEqual(page["limit"] as? Int, limit, file: file, line: line)
            let pageItems = try XCTUnwrap(page["items"] as? [[String: Any]], file: file, line: line)
            XCTAssertLessThanOrEqual(pageItems.count, limit, file: file, line: line)
            items += pageItems
            guard let next = page["nextOffset"] as? Int else { break }
            XCTAssertEqual(next, offset + pageItems.count, file: file, line: line)
            XCTAssertTrue((page["next"] as? String)?.contains("--offset \(next)") == true, "\(page["next"] ?? "-")", file: file, line: line)
            offset = next
        }
        XCTAssertEqual(items.count, total, file: file, line: line)
        return (total, items, pages)
    }

    func testAHeldRunIsReviewedWithNamesChangedFieldsPagingFiltersCSVAndJSON() throws {
        let (id, original) = try districtWithFirstSync()
        let edited = try editedBundle(original)
        let held = try json("sync", "run", "--integration", id, "--bundle", edited.bundle)
        XCTAssertEqual(held["decision"] as? String, "held", "\(held["reasons"] ?? "")")
        let run = try XCTUnwrap(held["id"] as? String)
        let counts = try XCTUnwrap(held["counts"] as? [String: [String: Int]])

        // Every deleted user, with given and family name, username and e-mail, across pages of 7.
        let deletes = try allPages(run, ["--entity", "users", "--op", "delete"], limit: 7)
        XCTAssertEqual(deletes.total, 30 + 1, "the 30 dropped users and the re-keyed user's old record")
        XCTAssertEqual(deletes.pages, 5)
        var listed: Set<String> = []
        for item in deletes.items {
            let sourcedID = try XCTUnwrap(item["sourcedId"] as? String)
            listed.insert(sourcedID)
            XCTAssertEqual(item["op"] as? String, "delete")
            XCTAssertEqual(item["entity"] as? String, "users")
            guard let expected = edited.dropped[sourcedID] else { continue }
            XCTAssertEqual(item["name"] as? String, expected[0] + " " + expected[1])
            XCTAssertEqual(item["username"] as? String, expected[2])
            XCTAssertEqual(item["email"] as? String, expected[3])
        }
        XCTAssertEqual(listed, Set(edited.dropped.keys).union([edited.rekeyed.old]))

        // Updates name the fields they change.
        let updates = try json("sync", "show", run, "--changes", "--entity", "users", "--op", "update")
        let updateItems = try XCTUnwrap(updates["items"] as? [[String: Any]])
        XCTAssertEqual(updates["total"] as? Int, 2)
        let changed = Dictionary(uniqueKeysWithValues: updateItems.map { ($0["sourcedId"] as! String, $0["changedFields"] as? [String]) })
        XCTAssertEqual(changed[edited.emailChanged] ?? nil, ["email"])
        XCTAssertEqual(changed[edited.nameChanged] ?? nil, ["givenName"])
        let text = try rosterflow("sync", "show", run, "--changes", "--op", "update").stdout
        XCTAssertTrue(text.contains("fields changed: email"), text)
        XCTAssertTrue(text.contains("fields changed: givenName"), text)
        XCTAssertTrue(text.contains("rosterflow sync approve \(run)"), text)

        // Deleted enrollments name their user and class.
        let enrollments = try allPages(run, ["--entity", "enrollments", "--op", "delete"], limit: 100)
        let enrollmentIDs = Set(enrollments.items.compactMap { $0["sourcedId"] as? String })
        XCTAssertTrue(edited.droppedEnrollments.isSubset(of: enrollmentIDs))
        for item in enrollments.items where edited.droppedEnrollments.contains(item["sourcedId"] as? String ?? "") {
            let user = try XCTUnwrap(edited.dropped[item["userId"] as? String ?? ""])
            XCTAssertEqual(item["userName"] as? String, user[0] + " " + user[1])
            XCTAssertNotNil(item["classTitle"] as? String, "\(item)")
            XCTAssertNotNil(item["role"] as? String)
        }

        // Without filters: every add, update and delete of the run, and the default page size.
        let everything = try json("sync", "show", run, "--changes")
        let expectedTotal = counts.values.map { ($0["adds"] ?? 0) + ($0["updates"] ?? 0) + ($0["deletes"] ?? 0) }.reduce(0, +)
        XCTAssertEqual(everything["total"] as? Int, expectedTotal)
        XCTAssertEqual(everything["limit"] as? Int, 50)
        XCTAssertEqual((everything["items"] as? [Any])?.count, min(50, expectedTotal))
        XCTAssertTrue((everything["next"] as? String)?.contains("rosterflow sync show \(run) --changes --offset 50") == true)
        // --page N is --offset (N-1)·limit.
        let page3 = try json("sync", "show", run, "--changes", "--limit", "4", "--page", "3")
        let offset8 = try json("sync", "show", run, "--changes", "--limit", "4", "--offset", "8")
        XCTAssertEqual(page3["offset"] as? Int, 8)
        XCTAssertEqual((page3["items"] as? [[String: Any]])?.map { $0["sourcedId"] as? String },
                       (offset8["items"] as? [[String: Any]])?.map { $0["sourcedId"] as? String })

        // Proposed merges are listed with --op merge.
        let merges = try json("sync", "show", run, "--changes", "--op", "merge", "--entity", "users")
        let merge = try XCTUnwrap((merges["items"] as? [[String: Any]])?.first)
        XCTAssertEqual(merges["total"] as? Int, 1)
        XCTAssertEqual(merge["sourcedId"] as? String, edited.rekeyed.old)
        XCTAssertEqual(merge["mergeInto"] as? String, edited.rekeyed.new)
        XCTAssertEqual(merge["name"] as? String, edited.rekeyed.name)
        XCTAssertEqual(merge["mergeIntoName"] as? String, edited.rekeyed.name)
        XCTAssertEqual(merge["mergeStatus"] as? String, "proposed")

        // CSV: a header row, then rows that parse back to what JSON says (a name with a comma and quotes included).
        let csv = try rosterflow("sync", "show", run, "--changes", "--entity", "users", "--limit", "100", "--csv")
        XCTAssertTrue(csv.stdout.contains("\r\n"), "RFC 4180 line ends")
        XCTAssertTrue(csv.stderr.contains("34 changes (users); showing 1–34"), csv.stderr)  // 31 deletes, 2 updates, the re-keyed add
        let rows = Self.parseCSV(csv.stdout)
        let header = try XCTUnwrap(rows.first)
        XCTAssertEqual(Array(header.prefix(4)), ["op", "entity", "sourced_id", "name"])
        XCTAssertTrue(rows.allSatisfy { $0.count == header.count })
        let asJSON = try XCTUnwrap(try json("sync", "show", run, "--changes", "--entity", "users", "--limit", "100")["items"] as? [[String: Any]])
        XCTAssertEqual(rows.count - 1, asJSON.count)
        let column = { (name: String) in header.firstIndex(of: name)! }
        for (row, item) in zip(rows.dropFirst(), asJSON) {
            XCTAssertEqual(row[column("op")], item["op"] as? String)
            XCTAssertEqual(row[column("sourced_id")], item["sourcedId"] as? String)
            XCTAssertEqual(row[column("name")], item["name"] as? String ?? "")
            XCTAssertEqual(row[column("email")], item["email"] as? String ?? "")
            XCTAssertEqual(row[column("changed_fields")], (item["changedFields"] as? [String])?.joined(separator: ";") ?? "")
        }
        XCTAssertTrue(rows.contains { $0[column("name")].hasPrefix(#"Ann "Annie", Jr"#) && $0[column("changed_fields")] == "givenName" })

        // Bad filters are input errors.
        XCTAssertEqual(try rosterflow("sync", "show", run, "--changes", "--entity", "students", expect: nil).status, 64)
        XCTAssertEqual(try rosterflow("sync", "show", run, "--changes", "--op", "remove", expect: nil).status, 64)
        XCTAssertEqual(try rosterflow("sync", "show", run, "--changes", "--limit", "0", expect: nil).status, 64)
        XCTAssertEqual(try rosterflow("sync", "show", "run_nope", "--changes", expect: nil).status, 66)

        // The on-hold task and the hold's mail name the run and how to review and decide it.
        let tasks = try XCTUnwrap(try JSONSerialization.jsonObject(
            with: Data(try rosterflow("tasks", "--integration", id, "--json").stdout.utf8)) as? [[String: Any]])
        let task = try XCTUnwrap(tasks.first { $0["state"] as? String == "on_hold" })
        XCTAssertEqual(task["syncRun"] as? String, run)
        XCTAssertTrue((task["todo"] as? String)?.contains("rosterflow sync show \(run) --changes") == true, "\(task)")
        XCTAssertTrue((task["todo"] as? String)?.contains("rosterflow sync approve \(run)") == true, "\(task)")
        let messages = try XCTUnwrap(try JSONSerialization.jsonObject(
            with: Data(try rosterflow("outbox", "list", "--json").stdout.utf8)) as? [[String: Any]])
        let heldMail = try XCTUnwrap(messages.first { $0["template"] as? String == "sync-held" }?["id"] as? String)
        let payload = try XCTUnwrap(try json("outbox", "show", heldMail)["payload"] as? [String: String])
        XCTAssertEqual(payload["sync_run"], run)
        let preview = try rosterflow("templates", "preview", "sync-held", "--integration", id, "--sync-run", run,
                                     "--templates", Self.templates).stdout
        XCTAssertTrue(preview.contains("rosterflow sync show \(run) --changes"), preview)
        XCTAssertTrue(preview.contains("rosterflow sync reject \(run)"), preview)

        // A rejected run keeps its change set for review; a dry run keeps one too.
        try rosterflow("sync", "reject", run)
        XCTAssertEqual(try json("sync", "show", run, "--changes")["total"] as? Int, expectedTotal)
        let dry = try json("sync", "run", "--integration", id, "--bundle", edited.bundle, "--dry-run")
        XCTAssertEqual(dry["decision"] as? String, "dry-run")
        let dryDeletes = try json("sync", "show", try XCTUnwrap(dry["id"] as? String), "--entity", "users", "--op", "delete")
        XCTAssertEqual(dryDeletes["total"] as? Int, 31)
    }

    /// Records held before field digests were kept: their updates say so, instead of guessing.
    func testUpdatesOfRecordsHeldBeforeFieldDigestsSayTheFieldsAreUnknown() throws {
        let (id, original) = try districtWithFirstSync()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/sqlite3")
        process.arguments = [database, "UPDATE roster_records SET fields = NULL"]
        try process.run()
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 0)

        let bundle = folder + "/b3"
        try FileManager.default.copyItem(atPath: original, toPath: bundle)
        var users = try readCSV(bundle + "/users.csv")
        let email = users[0].firstIndex(of: "email")!
        users[1][email] = "new.address@springfield.example"
        try writeCSV(bundle + "/users.csv", users)
        let dry = try json("sync", "run", "--integration", id, "--bundle", bundle, "--dry-run")
        let page = try json("sync", "show", try XCTUnwrap(dry["id"] as? String), "--op", "update")
        let item = try XCTUnwrap((page["items"] as? [[String: Any]])?.first)
        XCTAssertEqual(page["total"] as? Int, 1)
        XCTAssertNil(item["changedFields"])
        XCTAssertTrue((item["changedFieldsNote"] as? String)?.contains("held before v6-roster-field-digests") == true, "\(item)")
    }

    static var templates: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Templates").path
    }
}
