import Logging
import RosterFlowCore
import XCTest

/// `ROSTERFLOW_LOG_LEVEL` names the level of the executables' logs.
final class LoggingTests: XCTestCase {
    func testTheLevelIsReadInAnyCaseAndDefaultsToInfo() throws {
        XCTAssertEqual(try RosterFlowLogging.level(from: [:]), .info)
        XCTAssertEqual(try RosterFlowLogging.level(from: ["ROSTERFLOW_LOG_LEVEL": ""]), .info)
        XCTAssertEqual(try RosterFlowLogging.level(from: ["ROSTERFLOW_LOG_LEVEL": "Debug"]), .debug)
        XCTAssertEqual(try RosterFlowLogging.level(from: ["ROSTERFLOW_LOG_LEVEL": " trace "]), .trace)
        XCTAssertEqual(try RosterFlowLogging.level(from: ["ROSTERFLOW_LOG_LEVEL": "critical"]), .critical)
    }

    func testAnotherValueIsRefusedWithTheLevelsToChooseFrom() {
        XCTAssertThrowsError(try RosterFlowLogging.level(from: ["ROSTERFLOW_LOG_LEVEL": "verbose"])) { error in
            let failure = error as? RosterFlowError
            XCTAssertEqual(failure?.code, .invalidInput)
            XCTAssertEqual(failure?.message, "ROSTERFLOW_LOG_LEVEL is 'verbose': use one of trace, debug, info, notice, warning, error, critical")
        }
    }
}
