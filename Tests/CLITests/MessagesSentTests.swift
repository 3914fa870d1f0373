import Foundation
import XCTest

/// The messages no other test sees leave the outbox: each is rendered and sent by `rosterflow worker` (into the
/// spool here) to the recipient its template names.
final class MessagesSentTests: WorkerHarness {
    func csvLines(_ path: String) throws -> [String] {
        try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").map(String.init)
    }

    func testRejectedHeldVerifiedAndKeptLockedCourseMessagesAreSent() throws {
        let registry = folder + "/customers.csv"
        try "tenant_id,district,contact_email\nt1,Springfield USD,it@springfield.example\n"
            .write(toFile: registry, atomically: true, encoding: .utf8)
        try run("customers", "import", registry)
        func request(_ tenant: String, _ district: String, _ contact: String) throws -> String {
            let json = try run("integrations", "request", "--tenant", tenant, "--district", district,
                               "--permission", "full", "--contact", contact, "--json")
            return try XCTUnwrap((try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])?["id"] as? String)
        }
        // Not a customer: rejected, and the school contact is told.
        let stranger = try request("t-unknown", "Stranger County Schools", "who@stranger.example")
        try run("integrations", "authenticate", stranger)

        // A customer through its first sync; one course locked.
        let id = try request("t1", "Springfield USD", "it@springfield.example")
        try run("integrations", "authenticate", id)
        try run("integrations", "schedule", id, "--time", "02:00", "--timezone", "UTC")
        let bundle = folder + "/district"
        try run("sample-bundle", bundle, "--users", "200", "--classes", "10", "--enrollments", "800")
        try run("sync", "run", "--integration", id, "--bundle", bundle)
        let courses = try XCTUnwrap(try JSONSerialization.jsonObject(
            with: Data(try run("courses", "list", "--integration", id, "--json").utf8)) as? [[String: Any]])
        let course = try XCTUnwrap(courses.first { $0["sourcedID"] as? String == "crs-1" }?["id"] as? String)
        try run("courses", "map", course, "--catalog", "Algebra I (2026)", "--base-id", "ALG1-26")
        try run("courses", "verify", course)
        try run("courses", "content-added", course)
        try run("courses", "student-started", course)

        // The SIS drops the started course with its classes and enrollments: held (students leave a locked course),
        // then approved: the course itself is kept and the DSP told.
        let dropped = folder + "/dropped"
        try FileManager.default.copyItem(atPath: bundle, toPath: dropped)
        func keep(_ file: String, _ include: ([String]) -> Bool) throws {
            let lines = try csvLines(dropped + "/" + file)
            let kept = [lines[0]] + lines.dropFirst().filter { include($0.split(separator: ",", omittingEmptySubsequences: false).map(String.init)) }
            try (kept.joined(separator: "\n") + "\n").write(toFile: dropped + "/" + file, atomically: true, encoding: .utf8)
        }
        let classes = Set(try csvLines(bundle + "/classes.csv").dropFirst()
            .map { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) }
            .filter { $0[5] == "crs-1" }.map { $0[0] })
        XCTAssertFalse(classes.isEmpty)
        try keep("courses.csv") { $0[0] != "crs-1" }
        try keep("classes.csv") { !classes.contains($0[0]) }
        try keep("enrollments.csv") { !classes.contains($0[3]) }
        let held = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(try run(
            "sync", "run", "--integration", id, "--bundle", dropped, "--max-delete-share", "1", "--json").utf8)) as? [String: Any])
        XCTAssertEqual(held["decision"] as? String, "held")
        try run("sync", "approve", try XCTUnwrap(held["id"] as? String))
        let kept = try run("courses", "show", course, "--json")
        XCTAssertTrue(kept.contains("\"state\" : \"locked\""), kept)

        // The worker sends everything; each message reaches its recipient.
        let worker = process(["worker", "--once"], environment: ["ROSTERFLOW_DSP": "kim@dsp.test"])
        try worker.run()
        worker.waitUntilExit()
        XCTAssertEqual(worker.terminationStatus, 0)
        let sent = try XCTUnwrap(try JSONSerialization.jsonObject(
            with: Data(try run("outbox", "list", "--status", "sent", "--json").utf8)) as? [[String: Any]])
        for (template, recipient) in [
            ("integration-rejected", "who@stranger.example"), ("sync-held", "it@springfield.example"),
            ("shells-created", "kim@dsp.test"), ("locked-course-removed-by-sis", "kim@dsp.test"),
        ] {
            let message = try XCTUnwrap(sent.first { $0["template"] as? String == template }, "\(template) was not sent")
            let messageID = try XCTUnwrap(message["id"] as? String)
            let files = try FileManager.default.contentsOfDirectory(atPath: spool).filter { $0.hasPrefix(messageID) }
            XCTAssertEqual(files.count, 1, template)
            let mail = try String(contentsOfFile: spool + "/" + files[0], encoding: .utf8)
            XCTAssertTrue(mail.contains("To: \(recipient)"), "\(template): \(mail.prefix(400))")
            XCTAssertTrue(mail.contains("Message-ID: <\(messageID)@"), template)
        }
        let lockedNotice = try XCTUnwrap(sent.first { $0["template"] as? String == "locked-course-removed-by-sis" }?["id"] as? String)
        let notice = try run("outbox", "show", lockedNotice)
        XCTAssertTrue(notice.contains("crs-1"), notice)
    }
}
