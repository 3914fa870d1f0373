import Foundation
import OneRoster
import XCTest

final class CSVRecordReaderTests: OneRosterTestCase {
    func records(_ bytes: [UInt8]) throws -> [CSVRecord] {
        try CSVRecordReader(bytes: bytes).readAll()
    }

    func records(_ text: String) throws -> [CSVRecord] { try records(Array(text.utf8)) }

    func testBOMIsSkipped() throws {
        let r = try records([0xEF, 0xBB, 0xBF] + Array("sourcedId,name\nx,y\n".utf8))
        XCTAssertEqual(r.map(\.fields), [["sourcedId", "name"], ["x", "y"]])
        XCTAssertEqual(r[0].line, 1)
    }

    func testCRLFAndNoFinalNewline() throws {
        let r = try records("a,b\r\n1,2\r\n3,4")
        XCTAssertEqual(r.map(\.fields), [["a", "b"], ["1", "2"], ["3", "4"]])
        XCTAssertEqual(r.map(\.line), [1, 2, 3])
    }

    func testLoneCRIsALineEnd() throws {
        let r = try records("a,b\r1,2\r")
        XCTAssertEqual(r.map(\.fields), [["a", "b"], ["1", "2"]])
        XCTAssertEqual(r.map(\.line), [1, 2])
    }

    func testQuotedCommasAndDoubledQuotes() throws {
        let r = try records("id,title,grades\n1,\"Biology, \"\"Honors\"\"\",\"09,10\"\n")
        XCTAssertEqual(r[1].fields, ["1", "Biology, \"Honors\"", "09,10"])
        XCTAssertEqual(r[1].quirks, [])
    }

    func testEmptyFieldsAndTrailingComma() throws {
        let r = try records("a,b,c\n,,\n\"\",x,\n")
        XCTAssertEqual(r[1].fields, ["", "", ""])
        XCTAssertEqual(r[2].fields, ["", "x", ""])
    }

    func testNewlineInsideQuotesIsReportedAndLinesStayPhysical() throws {
        let r = try records("a,b\n1,\"two\nlines\"\n2,x\r\n3,\"y\r\nz\"\n4,w\n")
        XCTAssertEqual(r.map(\.fields), [["a", "b"], ["1", "two\nlines"], ["2", "x"], ["3", "y\r\nz"], ["4", "w"]])
        XCTAssertEqual(r.map(\.line), [1, 2, 4, 5, 7])
        XCTAssertTrue(r[1].quirks.contains(.lineBreakInField))
        XCTAssertFalse(r[2].quirks.contains(.lineBreakInField))
    }

    func testBlankLinesSkippedIncludingTrailing() throws {
        let r = try records("a,b\n\n1,2\n\n\n\r\n")
        XCTAssertEqual(r.map(\.fields), [["a", "b"], ["1", "2"]])
        XCTAssertEqual(r.map(\.line), [1, 3])
    }

    func testStrayAndUnterminatedQuotes() throws {
        let r = try records("a,b\nab\"c,\"x\"y\n\"open,1\n")
        XCTAssertEqual(r[1].fields, ["ab\"c", "xy"])
        XCTAssertTrue(r[1].quirks.contains(.strayQuote))
        XCTAssertEqual(r[2].fields, ["open,1\n"])
        XCTAssertTrue(r[2].quirks.contains(.unterminatedQuote))
    }

    func testInvalidUTF8ThrowsWithLine() throws {
        let reader = CSVRecordReader(bytes: Array("a,b\nok,fine\nbad,".utf8) + [0xC3, 0x28] + [0x0A])
        XCTAssertEqual(try reader.nextRecord()?.fields, ["a", "b"])
        XCTAssertEqual(try reader.nextRecord()?.fields, ["ok", "fine"])
        XCTAssertThrowsError(try reader.nextRecord()) { error in
            XCTAssertEqual(error as? CSVReadError, .invalidUTF8(line: 3, field: 1))
        }
        XCTAssertNil(reader.fieldIfValid(1))
        XCTAssertEqual(try reader.field(0), "bad")
    }

    func testMultibyteUTF8() throws {
        let r = try records("name\nJosé Müller 日本\n")
        XCTAssertEqual(r[1].fields, ["José Müller 日本"])
    }

    /// Reading a file in tiny chunks must give the same result as reading it whole (records, quotes,
    /// CRLF and BOM split across chunk boundaries).
    func testChunkBoundariesFromFile() throws {
        var text = "\u{FEFF}id,title,grades\r\n"
        for i in 0..<200 {
            text += "id-\(i),\"Title, \"\"\(i)\"\"\",\"09,10\"\r\n"
            if i % 50 == 0 { text += "\r\n" }
        }
        let dir = try makeTempDir()
        let url = dir.appendingPathComponent("t.csv")
        try Data(text.utf8).write(to: url)
        let whole = try CSVRecordReader(bytes: Array(text.utf8)).readAll()
        for chunk in [1, 2, 3, 7, 64] {
            let chunked = try CSVRecordReader(url: url, chunkSize: chunk).readAll()
            XCTAssertEqual(chunked, whole, "chunk size \(chunk)")
        }
        XCTAssertEqual(whole.count, 201)
        XCTAssertEqual(whole[0].fields, ["id", "title", "grades"])
        XCTAssertEqual(whole[1].fields, ["id-0", "Title, \"0\"", "09,10"])
        XCTAssertEqual(whole[2].line, 4) // blank line after id-0
        XCTAssertEqual(whole.last?.line, 205)
    }

    func testMissingFileThrows() {
        XCTAssertThrowsError(try CSVRecordReader(url: URL(fileURLWithPath: "/nonexistent/x.csv")))
    }
}
