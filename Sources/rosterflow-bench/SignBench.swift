import ArgumentParser
import Crypto
import Foundation
import Notifications

extension RosterFlowBench {
    /// `rosterflow-bench sign`: webhook signatures (Standard Webhooks, HMAC-SHA256 + base64) made with swift-crypto's
    /// `HMAC<SHA256>` and Foundation's base64 against the hand-written pads and base64, on the same messages.
    struct SignBench: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "sign",
            abstract: "Compare webhook signing: swift-crypto's HMAC and Foundation's base64 against hand-written pads and base64.",
            discussion: """
                Signs --count messages (distinct ids, one body of --body-bytes bytes) with each way and with the \
                product's WebhookSigner session, after checking that all three agree. Each keeps its best time of \
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
                let handWritten = HandWrittenSigner(keyBytes: key)
                let body = Data((0..<bodyBytes).map { UInt8(ascii: "a") &+ UInt8($0 % 26) })
                let ids = (0..<count).map { "msg_\($0)" }
                let timestamp = 1_764_500_000

                for id in ids.prefix(100) {
                    let expected = product.signature(id: id, timestamp: timestamp, body: body)
                    guard crypto.signature(id: id, timestamp: timestamp, body: body) == expected,
                        handWritten.signature(id: id, timestamp: timestamp, body: body) == expected
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
                    measure("hand-written pads + base64") { handWritten.signature(id: $0, timestamp: timestamp, body: body) },
                    measure("product (WebhookSigner.Session)") { product.signature(id: $0, timestamp: timestamp, body: body) },
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

/// The hand-written way (what `WebhookSigner.Session` did before swift-crypto's HMAC): two SHA-256 states that have
/// absorbed the key's inner and outer pads, copied per signature, and a base64 encoder straight into a String.
struct HandWrittenSigner {
    private let inner: SHA256
    private let outer: SHA256

    init(keyBytes: Data) {
        var block = [UInt8](repeating: 0, count: 64)
        if keyBytes.count > 64 {
            for (index, byte) in SHA256.hash(data: keyBytes).enumerated() { block[index] = byte }
        } else {
            for (index, byte) in keyBytes.enumerated() { block[index] = byte }
        }
        var inner = SHA256()
        var outer = SHA256()
        inner.update(data: block.map { $0 ^ 0x36 })
        outer.update(data: block.map { $0 ^ 0x5c })
        self.inner = inner
        self.outer = outer
    }

    func signature(id: String, timestamp: Int, body: Data) -> String {
        var mac = inner
        var prefix = id
        prefix += "."
        prefix += String(timestamp)
        prefix += "."
        prefix.withUTF8 { mac.update(bufferPointer: UnsafeRawBufferPointer($0)) }
        body.withUnsafeBytes { mac.update(bufferPointer: $0) }
        let innerDigest = mac.finalize()
        var result = outer
        innerDigest.withUnsafeBytes { result.update(bufferPointer: $0) }
        return result.finalize().withUnsafeBytes { "v1," + Self.base64($0) }
    }

    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    /// Standard base64 (RFC 4648, with padding).
    static func base64(_ bytes: UnsafeRawBufferPointer) -> String {
        let length = (bytes.count + 2) / 3 * 4
        return String(unsafeUninitializedCapacity: length) { output in
            var out = 0
            var index = 0
            while index + 3 <= bytes.count {
                let value = UInt32(bytes[index]) << 16 | UInt32(bytes[index + 1]) << 8 | UInt32(bytes[index + 2])
                output[out] = alphabet[Int(value >> 18 & 63)]
                output[out + 1] = alphabet[Int(value >> 12 & 63)]
                output[out + 2] = alphabet[Int(value >> 6 & 63)]
                output[out + 3] = alphabet[Int(value & 63)]
                out += 4
                index += 3
            }
            let rest = bytes.count - index
            if rest > 0 {
                let value = UInt32(bytes[index]) << 16 | (rest == 2 ? UInt32(bytes[index + 1]) << 8 : 0)
                output[out] = alphabet[Int(value >> 18 & 63)]
                output[out + 1] = alphabet[Int(value >> 12 & 63)]
                output[out + 2] = rest == 2 ? alphabet[Int(value >> 6 & 63)] : UInt8(ascii: "=")
                output[out + 3] = UInt8(ascii: "=")
                out += 4
            }
            return out
        }
    }
}
