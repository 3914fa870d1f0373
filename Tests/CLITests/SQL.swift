import Foundation
import GRDB
import XCTest

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

extension CLITests {
    /// Another process keeps the database's write lock past the busy timeout: the command says the database is busy
    /// and exits 75 (try again), not 74 (a storage fault), and changes nothing.
    func testADatabaseLockedByAnotherProcessIsBusyNotBroken() throws {
        try rosterflow("customers", "list")
        var configuration = Configuration()
        configuration.allowsUnsafeTransactions = true  // the lock is held across accesses on purpose
        let holder = try DatabaseQueue(path: database, configuration: configuration)
        try holder.inDatabase { try $0.execute(sql: "BEGIN IMMEDIATE") }
        let busy = try rosterflow(
            "integrations", "request", "--tenant", "t1", "--district", "Springfield USD", "--permission", "full",
            "--contact", "it@springfield.example", "--json", expect: 75)
        try holder.inDatabase { try $0.execute(sql: "ROLLBACK") }
        XCTAssertTrue(busy.stderr.contains("the database is busy"), busy.stderr)
        XCTAssertEqual(try busy.json()["code"] as? String, "busy")
        XCTAssertEqual(try rosterflow("integrations", "list").stdout, "no integrations\n")
    }
}
