import Foundation

/// Runs one of this package's executables as a child process and captures what it prints: the one place the CLI
/// tests start a `rosterflow` and wait for it.
enum Binary {
    /// Runs `executable` (default `rosterflow`) with `arguments` in `folder`, its environment the test's own with
    /// `changes` applied (a nil value removes the variable), and returns its exit status and output.
    static func run(
        _ arguments: [String], environment changes: [String: String?] = [:], in folder: String,
        executable: String = CLITests.binary
    ) throws -> CLITests.Result {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        var environment = ProcessInfo.processInfo.environment
        for (key, value) in changes { environment[key] = value }
        process.environment = environment
        process.currentDirectoryURL = URL(fileURLWithPath: folder)
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return CLITests.Result(
            status: process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self),
            stderr: String(decoding: stderr, as: UTF8.self))
    }
}
