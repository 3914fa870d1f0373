import ArgumentParser
import Crypto
import Foundation
import Notifications

extension RosterFlowBench {
    /// `rosterflow-bench sign`: webhook signatures (Standard Webhooks, HMAC-SHA256 + base64) made with swift-crypto's
    /// `HMAC<SHA256>` and Foundation's base64 against the product's hand-written pads and base64
    /// (``WebhookSigner/Session``), on the same messages: the measurement that keeps the hand-written ones.
    struct SignBench: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "sign",
            abstract: "Compare webhook signing: swift-crypto's HMAC and Foundation's base64 against hand-written pads and base64.",
            discussion: """
                Signs --count messages (distinct ids, one body of --body-bytes bytes) both ways, after checking that \
                they agree: the product's WebhookSigner session (hand-written, kept because it measured 2.2 × faster) \
                and swift-crypto's HMAC with Foundation's base64. Each keeps its best time of \
                --repetitions runs.
                """)
        @Option(help: "Signatures per way and run.") var count = 200_000
        @Option(help: "Bytes in the signed body (a webhook body is about 400).") var bodyBytes = 400
        @Option(help: "Runs of each way; the best time of each is kept.") var repetitions = 3
        @Flag(help: "Print JSON instead of text.") var json = false

        struct Row: Codable {
            var way: String
            var seconds: Double
            var signaturesPerSecond: Double
            var nanosecondsPerSignature: Double
        }

        struct Result: Codable {
            var count: Int
            var bodyBytes: Int
            var rows: [Row]
        }

        func run() async throws {
            try await Output.run(json: json) {
                let key = Data((0..<32).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) })
                let secret = "whsec_" + key.base64EncodedString()
                let product = try WebhookSigner(secret: Secret(secret)).session()
                let crypto = CryptoSigner(keyBytes: key)
                let body = Data((0..<bodyBytes).map { UInt8(ascii: "a") &+ UInt8($0 % 26) })
                let ids = (0..<count).map { "msg_\($0)" }
                let timestamp = 1_764_500_000

                for id in ids.prefix(100) {
                    let expected = product.signature(id: id, timestamp: timestamp, body: body)
                    guard crypto.signature(id: id, timestamp: timestamp, body: body) == expected
                    else { throw ValidationError("the ways of signing disagree on \(id)") }
                }

                func measure(_ way: String, _ sign: (String) -> String) -> Row {
                    var best = Double.infinity
                    for _ in 0..<max(1, repetitions) {
                        var length = 0
                        let start = DispatchTime.now().uptimeNanoseconds
                        for id in ids { length &+= sign(id).utf8.count }
                        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
                        if length == 0 { print("") }  // keep the work observable
                        best = min(best, seconds)
                    }
                    return Row(
                        way: way, seconds: best, signaturesPerSecond: Double(count) / best,
                        nanosecondsPerSignature: best * 1e9 / Double(count))
                }
                let rows = [
                    measure("swift-crypto HMAC<SHA256> + Foundation base64") {
                        crypto.signature(id: $0, timestamp: timestamp, body: body)
                    },
                    measure("hand-written pads + base64 (WebhookSigner.Session)") {
                        product.signature(id: $0, timestamp: timestamp, body: body)
                    },
                ]
                try Output.emit(Result(count: count, bodyBytes: bodyBytes, rows: rows), json: json) { r in
                    let base = r.rows[0].seconds
                    return "| way (\(r.count) signatures, \(r.bodyBytes)-byte body) | seconds | signatures/s | ns/signature | time vs swift-crypto |\n"
                        + "|---|---:|---:|---:|---:|\n"
                        + r.rows.map { row in
                            "| \(row.way) | \(String(format: "%.3f", row.seconds)) | \(Int(row.signaturesPerSecond)) | "
                                + "\(Int(row.nanosecondsPerSignature)) | \(String(format: "%.2f", row.seconds / base)) × |"
                        }.joined(separator: "\n")
                }
            }
        }
    }
}

/// The swift-crypto way: an `HMAC<SHA256>` keyed once and copied per signature, Foundation's base64.
struct CryptoSigner {
    private let prepared: HMAC<SHA256>

    init(keyBytes: Data) {
        prepared = HMAC<SHA256>(key: SymmetricKey(data: keyBytes))
    }

    func signature(id: String, timestamp: Int, body: Data) -> String {
        var mac = prepared
        mac.update(data: Data("\(id).\(timestamp).".utf8))
        mac.update(data: body)
        return "v1," + Data(mac.finalize()).base64EncodedString()
    }
}
