import Foundation
import OneRoster
import XCTest

/// A NUL byte in a value is kept (the row is valid OneRoster otherwise) but reported, since other tools cut there.
final class NULByteTests: OneRosterTestCase {
    func testANULByteInAValueIsAWarningAndTheRowIsKept() throws {
        var files = Fixture.bundle11()
        files["orgs.csv"] = Fixture.orgs + "org-x,,,Nul\u{0}ville Elementary,school,,org-d\n"
        let b = try read(files)
        let i = try issue(b, .nulByte)
        XCTAssertEqual(i.severity, .warning)
        XCTAssertEqual(i.file, "orgs.csv")
        XCTAssertEqual(i.line, 4)
        XCTAssertFalse(i.fix.isEmpty)
        XCTAssertEqual(b.orgs.first { $0.sourcedId == "org-x" }?.name, "Nul\u{0}ville Elementary", "kept as read")
        XCTAssertTrue(b.quarantined.isEmpty)
    }

    func testTheReaderFlagsOnlyRecordsWithANULByte() throws {
        let records = try CSVRecordReader(string: "a,b\n\"x\u{0}\",y\nc,d\n").readAll()
        XCTAssertEqual(records.map { $0.quirks.contains(.nulByte) }, [false, true, false])
        XCTAssertEqual(records[1].fields, ["x\u{0}", "y"])
    }
}
