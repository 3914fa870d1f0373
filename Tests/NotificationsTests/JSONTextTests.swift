import Foundation
@testable import Notifications
import StorageCore
import StorageSQLite
import XCTest

/// The hand-written JSON on the webhook hot path agrees with Foundation's.
final class JSONTextTests: XCTestCase {
    func testFlatPayloadsReadAsJSONSerializationReadsThem() throws {
        let payloads = [
            #"{}"#,
            #"{"district":"O'Brien & <Sons> ISD","contact_email":"admin@obrien.example"}"#,
            #" { "a" : "x\"y\\z\/w\n\t\r\b\f" , "é" : "\u00e9\ud83d\ude00 ünï" } "#,
        ]
        for payload in payloads {
            let expected = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(payload.utf8)) as? [String: String])
            XCTAssertEqual(JSONText.flatStrings(payload), expected, payload)
        }
        for payload in [#"{"a":1}"#, #"{"a":{"b":"c"}}"#, #"{"a":"b""#, #"["a"]"#, #"{"a":"b"} x"#, #"{"a":"\ud83d"}"#] {
            XCTAssertNil(JSONText.flatStrings(payload), payload)
        }
    }

    func testWebhookBodyIsTheJSONThatFoundationWouldWrite() throws {
        let message = OutboxRecord(
            id: "msg_1", instanceID: "int_1", transitionSeq: nil, channel: .email, recipient: "school_contact",
            template: "integration-requested", payload: "{}", nextAttemptAt: 0, createdAt: 1_764_000_000)
        let values = ["district": "O'Brien \"&\" <Sons>\n/ISD", "z": "ü", "a": "\u{1}"]
        let body = OutboxDispatcher.webhookBody(message, values: values)
        let expected: [String: Any] = [
            "type": "rosterflow.notification.integration-requested",
            "timestamp": ISO8601DateFormatter().string(from: Date(timeIntervalSince1970: message.createdAt)),
            "data": ["id": "msg_1", "template": "integration-requested", "recipient": "school_contact",
                     "instance_id": "int_1", "values": values] as [String: Any],
        ]
        let parsed = try XCTUnwrap(JSONSerialization.jsonObject(with: body) as? NSDictionary)
        XCTAssertEqual(parsed, expected as NSDictionary)
        XCTAssertTrue(String(decoding: body, as: UTF8.self).hasPrefix(#"{"data":{"id":"msg_1","instance_id":"int_1""#))
    }

    func testASessionSignsAsTheSignerDoes() throws {
        let reference = try WebhookSigner(secret: Secret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")).session()
        XCTAssertEqual(reference.signature(id: "msg_p5jXN8AQM9LWM0D4loKWxJek", timestamp: 1_614_265_330, body: Data(#"{"test": 2432232314}"#.utf8)),
                       "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")
        // Keys shorter than, as long as, and longer than SHA-256's 64-byte block (a longer key is hashed first).
        for keyLength in [1, 24, 63, 64, 65, 100] {
            let key = Data((0..<keyLength).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) })
            let signer = try WebhookSigner(secret: Secret("whsec_" + key.base64EncodedString()))
            let session = signer.session()
            for body in ["{\"test\": 2432232314}", "", "{\"a\":\"ü\"}", String(repeating: "x", count: 1_000)] {
                XCTAssertEqual(session.signature(id: "msg_p5jXN8AQM9LWM0D4loKWxJek", timestamp: 1_614_265_330, body: Data(body.utf8)),
                               signer.signature(id: "msg_p5jXN8AQM9LWM0D4loKWxJek", timestamp: 1_614_265_330, body: Data(body.utf8)),
                               "key of \(keyLength) bytes")
            }
        }
    }

    func testBase64IsFoundationsBase64() {
        for length in 0..<40 {
            let bytes = Data((0..<length).map { UInt8(truncatingIfNeeded: $0 &* 97 &+ 200) })
            XCTAssertEqual(bytes.withUnsafeBytes { Base64.encode($0) }, bytes.base64EncodedString(), "\(length) bytes")
        }
    }

    func testAnOutboxPayloadIsWrittenSortedAndReadBack() throws {
        let values = [("reason", "line 1\nline \"2\"\t\u{08}\u{0C}\u{01}"), ("district", "O'Brien & <Sons>"), ("reason", "later wins"),
                      ("a/b", "é😀")]
        let text = JSONText.object(values)
        XCTAssertTrue(text.hasPrefix(#"{"a/b":"#), text)
        let expected = ["reason": "later wins", "district": "O'Brien & <Sons>", "a/b": "é😀"]
        XCTAssertEqual(JSONText.flatStrings(text), expected)
        XCTAssertEqual(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: String], expected)
        let escaped = JSONText.object([("k", "line 1\nline \"2\"\t\u{08}\u{0C}\u{01}")])
        XCTAssertEqual(JSONText.flatStrings(escaped), ["k": "line 1\nline \"2\"\t\u{08}\u{0C}\u{01}"])
        XCTAssertEqual(try JSONSerialization.jsonObject(with: Data(escaped.utf8)) as? [String: String],
                       ["k": "line 1\nline \"2\"\t\u{08}\u{0C}\u{01}"])
    }
}
