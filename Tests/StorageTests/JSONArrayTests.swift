import Foundation
import StorageCore
@testable import StorageSQLite
import XCTest

/// The JSON arrays of ids handed to `json_each`.
final class JSONArrayTests: XCTestCase {
    func testEscapesQuotesBackslashesAndControlCharactersAndKeepsOtherText() throws {
        let values = ["msg_1/webhook/a", "q\"b\\c", "line\nbreak\u{1}", "é 😀", ""]
        let text = JSONText.array(values)
        let parsed = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String]
        XCTAssertEqual(parsed, values)
        XCTAssertEqual(JSONText.array([]), "[]")
        XCTAssertEqual(JSONText.array(["a", "b"]), #"["a","b"]"#)
    }
}
