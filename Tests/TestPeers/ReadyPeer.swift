import Foundation

/// The tests' loopback peers (the SMTP and webhook peers, the OneRoster provider, the bench receiver) all announce
/// themselves the same way: their first line on standard output is `READY <port>`. This reads it, once, for every
/// test target.
public enum ReadyPeer {
    /// A peer that exited, said something else, or said nothing in time; it has been killed.
    public struct DidNotStart: Error, CustomStringConvertible {
        /// What the peer printed instead of `READY <port>` (empty when nothing).
        public let line: String
        public var description: String { "the peer did not start: '\(line)'" }
    }

    /// Runs `process` (its executable and arguments set) with standard output piped, and returns the port its first
    /// line announces, waiting at most `seconds`. A peer that does not announce one is killed and ``DidNotStart`` thrown.
    public static func start(_ process: Process, seconds: Double = 20) throws -> Int {
        let stdout = Pipe()
        process.standardOutput = stdout
        try process.run()
        var buffer = Data()
        let deadline = Date().addingTimeInterval(seconds)
        while !buffer.contains(UInt8(ascii: "\n")) {
            let chunk = stdout.fileHandleForReading.availableData
            if chunk.isEmpty || Date() > deadline { break }
            buffer.append(chunk)
        }
        let line = String(decoding: buffer, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard line.hasPrefix("READY "), let port = Int(line.dropFirst(6)) else {
            if process.isRunning {
                kill(process.processIdentifier, SIGKILL)
                process.waitUntilExit()
            }
            throw DidNotStart(line: line)
        }
        return port
    }
}
