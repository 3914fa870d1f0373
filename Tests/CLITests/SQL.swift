import Foundation
import GRDB

extension CLITests {
    /// Runs SQL on the test's database over a connection of the test's own (GRDB), the way an operator's sqlite3 shell
    /// would: to set up a state no command makes (an expired lease, a sync that is due now).
    func executeSQL(_ sql: String) throws {
        var configuration = Configuration()
        configuration.busyMode = .timeout(10)
        let queue = try DatabaseQueue(path: database, configuration: configuration)
        try queue.writeWithoutTransaction { try $0.execute(sql: sql) }
    }

    /// The `rosterflow-bench` executable (benchmarks, the bench receiver, the load generator), next to `rosterflow`.
    static var benchBinary: String {
        URL(fileURLWithPath: binary).deletingLastPathComponent().appendingPathComponent("rosterflow-bench").path
    }
}
