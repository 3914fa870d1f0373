import Foundation
@testable import OneRosterREST
import XCTest

final class JSONParserTests: XCTestCase {
    func testItReadsWhatJSONDecoderReads() throws {
        let texts = [
            #"{"s":"a\"b\\c\/\u00e9\ud83d\ude00\n\t","n":-1.5e3,"y":2027.0,"i":42,"e":[],"o":{},"t":true,"f":false,"z":null}"#,
            #"  [ 1 , "x" , [ [ ] ] , { "k" : { "k" : "v" } } ]  "#,
            #"{"users":[{"sourcedId":"u-1","enabledUser":true,"orgs":[{"href":"h","sourcedId":"o","type":"org"}],"grades":["07","08"]}]}"#,
            #""plain""#,
        ]
        for text in texts {
            let data = Data(text.utf8)
            XCTAssertEqual(try JSONParser.parse(data), try JSONDecoder().decode(JSONValue.self, from: data), text)
        }
        XCTAssertEqual(try JSONParser.parse(Data(#"{"y":2027.0,"d":0.5,"big":1e300}"#.utf8)),
                       .object(["y": .number("2027"), "d": .number("0.5"), "big": .number("1e300")]))
        XCTAssertEqual(try JSONParser.parse(Data(#""\ud83d\u0041""#.utf8)), .string("\u{FFFD}A"), "a lone high surrogate")
    }

    func testACutOffOrMalformedPageIsNotJSON() {
        let page = #"{"users":[{"sourcedId":"u-1","givenName":"Ann"},{"sourcedId":"u-2","givenName":"Bo"}]}"#
        for cut in [1, 10, 30, page.utf8.count / 2, page.utf8.count - 1] {
            XCTAssertThrowsError(try JSONParser.parse(Data(page.utf8.prefix(cut))), "cut at \(cut)")
        }
        for bad in [#"{"a":1,}"#, #"{"a" 1}"#, "[1 2]", "tru", #"{"a":"x"} extra"#, "\"tab\there\"", "-", #""\x""#, "{'a':1}"] {
            XCTAssertThrowsError(try JSONParser.parse(Data(bad.utf8)), bad)
        }
        let deep = String(repeating: "[", count: 600) + String(repeating: "]", count: 600)
        XCTAssertThrowsError(try JSONParser.parse(Data(deep.utf8)), "nesting is capped, not a stack overflow")
    }
}
