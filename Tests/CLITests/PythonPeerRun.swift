import Foundation

extension CLITests {
    /// Runs a Python test peer (schemathesis, the selenium browser walk) in the test's folder, its output to a log
    /// file there, for at most `bound` seconds (then it is terminated); returns its exit status and output.
    func runPeer(
        _ executable: String, _ arguments: [String], log name: String, bound: Double = 180,
        environment: [String: String]? = nil
    ) async throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if let environment { process.environment = environment }
        process.currentDirectoryURL = URL(fileURLWithPath: folder)
        let log = folder + "/" + name
        _ = FileManager.default.createFile(atPath: log, contents: nil)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        let deadline = Date().addingTimeInterval(bound)
        while process.isRunning, Date() < deadline { try await Task.sleep(for: .milliseconds(200)) }
        if process.isRunning { process.terminate() }
        process.waitUntilExit()
        try handle.close()
        return (process.terminationStatus, (try? String(contentsOfFile: log, encoding: .utf8)) ?? "")
    }
}
