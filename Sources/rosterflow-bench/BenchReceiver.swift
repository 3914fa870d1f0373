import ArgumentParser
import Crypto
import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

extension RosterFlowBench {
    /// `rosterflow-bench receiver`: the webhook receiver `notify` measures against (hidden; a peer, not a tool).
    struct BenchReceiverCommand: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "receiver",
            abstract: "A Standard Webhooks receiver for `bench notify`: HTTP/1.1 keep-alive on loopback, poll(2) per thread.",
            discussion: """
                Prints `READY <port>` once it listens on 127.0.0.1. Every POST's signature is verified (HMAC-SHA256, \
                timestamp within five minutes): 200 when it verifies, 401 otherwise. `GET /_stats` answers the counts \
                as JSON. Every --sample-every'th request, up to --sample, is written with its headers and body as one \
                JSON line to --sample-out, for an independent check (scripts/peers/verify_sample.py).
                """,
            shouldDisplay: false)

        @Option(help: "Port on 127.0.0.1 (0: any free port).") var port = 0
        @Option(help: "whsec_<base64> signing secret.") var secret: String
        @Option(help: "Threads, each with its own poll loop and listening socket (SO_REUSEPORT).") var threads = 1
        @Option(help: "Requests to keep as the sample.") var sample = 200
        @Option(help: "Keep every Nth request as part of the sample.") var sampleEvery = 1
        @Option(help: "Where the sample goes (JSON lines); none when omitted.") var sampleOut: String?

        func run() throws {
            var text = Substring(secret)
            if text.hasPrefix("whsec_") { text = text.dropFirst(6) }
            guard let key = Data(base64Encoded: String(text)), !key.isEmpty else {
                throw ValidationError("--secret must be whsec_ followed by base64")
            }
            let shared = ReceiverState(
                sampleLimit: sampleOut == nil ? 0 : sample, sampleEvery: max(1, sampleEvery),
                sample: sampleOut.map { path in
                    _ = FileManager.default.createFile(atPath: path, contents: nil)
                    return FileHandle(forWritingAtPath: path)
                } ?? nil)
            signal(SIGPIPE, SIG_IGN)
            var listeners: [Int32] = []
            var bound = port
            for _ in 0..<max(1, threads) {
                let fd = try Self.listen(port: bound)
                bound = Self.localPort(fd)
                listeners.append(fd)
            }
            FileHandle.standardOutput.write(Data("READY \(bound)\n".utf8))
            let loops = listeners.map { ReceiverLoop(listener: $0, keyBytes: key, state: shared) }
            for loop in loops.dropFirst() {
                let thread = Thread { loop.run() }
                thread.start()
            }
            loops[0].run()
        }

        static func listen(port: Int) throws -> Int32 {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
            guard fd >= 0 else { throw ValidationError("socket() failed: errno \(errno)") }
            var one: Int32 = 1
            setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
            setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, socklen_t(MemoryLayout<Int32>.size))
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            address.sin_port = UInt16(port).bigEndian
            let result = withUnsafePointer(to: &address) { pointer in
                pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
            guard result == 0, Glibc.listen(fd, 1024) == 0 else {
                close(fd)
                throw ValidationError("cannot listen on 127.0.0.1:\(port): errno \(errno)")
            }
            return fd
        }

        static func localPort(_ fd: Int32) -> Int {
            var address = sockaddr_in()
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            _ = withUnsafeMutablePointer(to: &address) { pointer in
                pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
            }
            return Int(UInt16(bigEndian: address.sin_port))
        }
    }
}

/// What every receiver thread shares: the counts, the ids seen, and the sample file.
final class ReceiverState: Sendable {
    struct Counts {
        var received = 0
        var verified = 0
        var rejected = 0
        var ids = Set<String>()
        var sampled = 0
    }

    let counts = Mutex(Counts())
    let sampleLimit: Int
    let sampleEvery: Int
    private let sample: Mutex<FileHandle?>

    init(sampleLimit: Int, sampleEvery: Int, sample: FileHandle?) {
        self.sampleLimit = sampleLimit
        self.sampleEvery = sampleEvery
        self.sample = Mutex(sample)
    }

    /// Counts one request; returns whether it belongs to the sample.
    func record(id: String, verified: Bool) -> Bool {
        counts.withLock { counts in
            counts.received += 1
            if verified { counts.verified += 1 } else { counts.rejected += 1 }
            counts.ids.insert(id)
            guard sampleLimit > 0, counts.sampled < sampleLimit, (counts.received - 1) % sampleEvery == 0 else { return false }
            counts.sampled += 1
            return true
        }
    }

    func writeSample(_ line: Data) {
        sample.withLock { handle in handle?.write(line) }
    }

    var statsJSON: String {
        counts.withLock { c in
            #"{"received":\#(c.received),"verified":\#(c.verified),"rejected":\#(c.rejected),"unique":\#(c.ids.count),"sampled":\#(c.sampled)}"#
        }
    }
}

/// One thread's poll(2) loop over its listening socket and the connections it accepted.
final class ReceiverLoop: @unchecked Sendable {
    private let listener: Int32
    private let key: SymmetricKey
    private let state: ReceiverState
    private var polls: [pollfd] = []
    private var connections: [ReceiverConnection?] = []
    private var scratch = [UInt8](repeating: 0, count: 256 * 1024)

    init(listener: Int32, keyBytes: Data, state: ReceiverState) {
        self.listener = listener
        key = SymmetricKey(data: keyBytes)
        self.state = state
    }

    func run() {
        polls = [pollfd(fd: listener, events: Int16(POLLIN), revents: 0)]
        connections = [nil]
        while true {
            let ready = poll(&polls, nfds_t(polls.count), -1)
            if ready < 0 {
                if errno == EINTR { continue }
                return
            }
            var closed: [Int] = []
            for index in polls.indices where polls[index].revents != 0 {
                if index == 0 {
                    acceptAll()
                    continue
                }
                guard let connection = connections[index] else { continue }
                let events = polls[index].revents
                var open = true
                if events & Int16(POLLIN | POLLHUP | POLLERR) != 0 { open = readAndAnswer(connection) }
                if open && events & Int16(POLLOUT) != 0 { open = flush(connection) }
                if open {
                    polls[index].events = Int16(POLLIN) | (connection.output.isEmpty ? 0 : Int16(POLLOUT))
                } else {
                    closed.append(index)
                }
            }
            for index in closed.reversed() {
                close(polls[index].fd)
                polls.remove(at: index)
                connections.remove(at: index)
            }
        }
    }

    private func acceptAll() {
        while true {
            let fd = accept(listener, nil, nil)
            if fd < 0 { return }
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
            var one: Int32 = 1
            setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
            polls.append(pollfd(fd: fd, events: Int16(POLLIN), revents: 0))
            connections.append(ReceiverConnection(fd: fd))
        }
    }

    /// One read (level-triggered poll brings us back for the rest), then every complete request in the buffer is
    /// answered with one write. Returns false when the connection is done.
    private func readAndAnswer(_ connection: ReceiverConnection) -> Bool {
        let count = scratch.withUnsafeMutableBytes { recv(connection.fd, $0.baseAddress, $0.count, 0) }
        if count == 0 { return false }
        if count < 0 { return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR }
        connection.input.append(contentsOf: scratch[0..<count])
        while let request = connection.nextRequest() {
            answer(request, on: connection)
            if request.close { connection.closeAfterWrite = true; break }
        }
        connection.compact()
        if connection.malformed {
            connection.output.append(contentsOf: Self.response(400, #"{"error":"malformed request"}"#, close: true))
            connection.closeAfterWrite = true
        }
        return flush(connection)
    }

    private func flush(_ connection: ReceiverConnection) -> Bool {
        while !connection.output.isEmpty {
            let written = connection.output.withUnsafeBytes { send(connection.fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if written < 0 { return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR }
            if written == connection.output.count {
                connection.output.removeAll(keepingCapacity: true)
            } else {
                connection.output.removeFirst(written)
            }
        }
        return !connection.closeAfterWrite
    }

    private func answer(_ request: ReceiverConnection.Request, on connection: ReceiverConnection) {
        if request.method == "GET" && request.path == "/_stats" {
            connection.output.append(contentsOf: Self.response(200, state.statsJSON, close: request.close))
            return
        }
        guard request.method == "POST" else {
            connection.output.append(contentsOf: Self.response(405, #"{"error":"POST only"}"#, close: request.close))
            return
        }
        let verified = verify(request)
        if state.record(id: request.webhookID ?? "", verified: verified) {
            let record: [String: Any] = ["headers": request.headers, "body_b64": Data(request.body).base64EncodedString()]
            if var line = try? JSONSerialization.data(withJSONObject: record, options: [.sortedKeys]) {
                line.append(UInt8(ascii: "\n"))
                state.writeSample(line)
            }
        }
        connection.output.append(contentsOf: verified ? Self.ok : Self.response(401, #"{"error":"bad signature"}"#, close: request.close))
    }

    /// Standard Webhooks: any `v1,<base64>` entry of `webhook-signature` that is the HMAC-SHA256 of
    /// `<id>.<timestamp>.<body>`, with the timestamp within five minutes of now.
    private func verify(_ request: ReceiverConnection.Request) -> Bool {
        guard let id = request.webhookID, let stamp = request.timestamp,
              let timestamp = Int(stamp), let signatures = request.signature,
              abs(Int(time(nil)) - timestamp) <= 300
        else { return false }
        var mac = HMAC<SHA256>(key: key)
        var prefix = id + "." + stamp + "."
        prefix.withUTF8 { mac.update(data: UnsafeRawBufferPointer($0)) }
        request.body.withUnsafeBytes { mac.update(data: $0) }
        let expected = mac.finalize()
        // The usual header is one signature: compare its text; otherwise decode each `v1,` entry.
        if signatures.utf8.count == 47 && signatures.hasPrefix("v1,") {
            return "v1," + Data(expected).base64EncodedString() == signatures
        }
        for entry in signatures.split(separator: " ") where entry.hasPrefix("v1,") {
            if let given = Data(base64Encoded: String(entry.dropFirst(3))), expected == given { return true }
        }
        return false
    }

    static let ok = response(200, #"{"ok":true}"#, close: false)

    static func response(_ status: Int, _ body: String, close: Bool) -> [UInt8] {
        let reason = [200: "OK", 400: "Bad Request", 401: "Unauthorized", 405: "Method Not Allowed"][status] ?? "Error"
        let connection = close ? "Connection: close\r\n" : ""
        return Array("HTTP/1.1 \(status) \(reason)\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n\(connection)\r\n\(body)".utf8)
    }
}

/// One client connection: bytes read and not yet parsed, bytes to write.
final class ReceiverConnection {
    /// A parsed request; only the headers a webhook receiver reads are decoded (the sample decodes the rest).
    struct Request {
        var method: String
        var path: String
        var webhookID: String?
        var timestamp: String?
        var signature: String?
        /// The header lines, as received.
        var head: ArraySlice<UInt8>
        var body: ArraySlice<UInt8>
        var close: Bool

        /// Every header, names lowercased.
        var headers: [String: String] {
            var headers: [String: String] = [:]
            for line in String(decoding: head, as: UTF8.self).components(separatedBy: "\r\n") {
                guard let colon = line.firstIndex(of: ":") else { continue }
                headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            }
            return headers
        }
    }

    let fd: Int32
    var input: [UInt8] = []
    /// Bytes of `input` already parsed (dropped by ``compact()``).
    var consumed = 0
    var output: [UInt8] = []
    var closeAfterWrite = false
    var malformed = false

    init(fd: Int32) {
        self.fd = fd
    }

    /// The next complete request in `input` (consumed), or nil when more bytes are needed.
    func nextRequest() -> Request? {
        guard !malformed, let end = headerEnd() else { return nil }
        var request = Request(method: "", path: "", head: [], body: [], close: false)
        var length = 0
        let parsed = input.withUnsafeBufferPointer { bytes -> Bool in
            func text(_ range: Range<Int>) -> String {
                String(decoding: UnsafeBufferPointer(rebasing: bytes[range]), as: UTF8.self)
            }
            func lineEnd(_ from: Int) -> Int {
                var index = from
                while index < end && bytes[index] != 13 { index += 1 }
                return index
            }
            func equals(_ range: Range<Int>, _ lowercase: StaticString) -> Bool {
                guard range.count == lowercase.utf8CodeUnitCount else { return false }
                let expected = lowercase.utf8Start
                for offset in 0..<range.count where bytes[range.lowerBound + offset] | 0x20 != expected[offset] { return false }
                return true
            }
            // Request line: METHOD SP PATH SP VERSION.
            let first = lineEnd(consumed)
            var spaces: [Int] = []
            for index in consumed..<first where bytes[index] == 32 { spaces.append(index) }
            guard spaces.count == 2 else { return false }
            request.method = text(consumed..<spaces[0])
            request.path = text(spaces[0] + 1..<spaces[1])
            request.close = text(spaces[1] + 1..<first) == "HTTP/1.0"
            request.head = input[min(first + 2, end)..<end]
            var line = first + 2
            while line < end {
                let stop = lineEnd(line)
                var colon = line
                while colon < stop && bytes[colon] != 58 { colon += 1 }
                guard colon < stop else { return false }
                var from = colon + 1
                var to = stop
                while from < to && (bytes[from] == 32 || bytes[from] == 9) { from += 1 }
                while to > from && (bytes[to - 1] == 32 || bytes[to - 1] == 9) { to -= 1 }
                let name = line..<colon
                if equals(name, "content-length") {
                    guard from < to else { return false }
                    for index in from..<to {
                        guard (48...57).contains(bytes[index]), length < 1 << 30 else { return false }
                        length = length * 10 + Int(bytes[index] - 48)
                    }
                } else if equals(name, "webhook-id") {
                    request.webhookID = text(from..<to)
                } else if equals(name, "webhook-timestamp") {
                    request.timestamp = text(from..<to)
                } else if equals(name, "webhook-signature") {
                    request.signature = text(from..<to)
                } else if equals(name, "connection") {
                    if equals(from..<to, "close") { request.close = true } else if equals(from..<to, "keep-alive") { request.close = false }
                } else if equals(name, "transfer-encoding") {
                    return false  // chunked bodies are not needed by the bench's clients
                }
                line = stop + 2
            }
            return true
        }
        guard parsed else {
            malformed = true
            return nil
        }
        let bodyStart = end + 4
        guard input.count >= bodyStart + length else { return nil }
        request.body = input[bodyStart..<bodyStart + length]
        consumed = bodyStart + length
        return request
    }

    /// Drops the parsed bytes.
    func compact() {
        if consumed == input.count {
            input.removeAll(keepingCapacity: true)
        } else if consumed > 0 {
            input.removeFirst(consumed)
        }
        consumed = 0
    }

    /// Where the blank line ending the next request's headers starts.
    private func headerEnd() -> Int? {
        guard input.count - consumed >= 4 else { return nil }
        return input.withUnsafeBufferPointer { bytes -> Int? in
            var index = consumed
            while index + 3 < bytes.count {
                if bytes[index + 3] != 10 {
                    index += bytes[index + 3] == 13 ? 1 : 4
                    continue
                }
                if bytes[index] == 13 && bytes[index + 1] == 10 && bytes[index + 2] == 13 { return index }
                index += 1
            }
            return nil
        }
    }
}
