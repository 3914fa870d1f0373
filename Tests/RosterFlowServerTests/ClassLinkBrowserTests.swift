import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Hummingbird
import HummingbirdTesting
import Logging
import RosterFlowServer
import XCTest

/// Sign in with ClassLink in a real browser (headless Debian chromium through selenium, installed by
/// scripts/install-test-peers), loopback only: the fake ClassLink's LaunchPad page, a teacher's first sign-in and a
/// class import, then a student on the same browser placed in it. Screenshots go to
/// `.build/test-artifacts/browser-classlink` (or `$ROSTERFLOW_TEST_ARTIFACTS/browser-classlink`).
final class ClassLinkBrowserTests: XCTestCase {
    /// A loopback port nobody listens on now.
    static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        guard bound else { throw FakeClassLink.FakeError.bad("no free port") }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    func testATeachersFirstSignInImportAndAStudentsPlacementInABrowser() async throws {
        let root = APIFixture.repositoryRoot
        let python = root + "/.venv-test/bin/python3"
        guard FileManager.default.isExecutableFile(atPath: python) else { return XCTFail("\(python) is missing: run scripts/install-test-peers") }
        let artifacts = (ProcessInfo.processInfo.environment["ROSTERFLOW_TEST_ARTIFACTS"] ?? root + "/.build/test-artifacts") + "/browser-classlink"
        try? FileManager.default.removeItem(atPath: artifacts)
        let fake = try FakeClassLink()
        try await fake.run { fake in
            let world = try await ClassLinkWorld(issuer: fake.issuer, clientID: fake.clientID, secret: fake.secret, userInfoURL: fake.userInfoURL)
            defer { world.fixture.remove() }
            fake.people = [world.teacher, world.student]
            let port = try Self.freePort()
            let base = "http://127.0.0.1:\(port)"
            let router = RosterFlowServer.router(
                service: world.fixture.service, logger: Logger(label: "test"), dashboard: DashboardOptions(publicURL: base))
            let app = Application(
                responder: RosterFlowServer.responder(for: router, logger: Logger(label: "test")),
                configuration: .init(address: .hostname("127.0.0.1", port: port)),
                logger: { var quiet = Logger(label: "test"); quiet.logLevel = .critical; return quiet }())
            // The live test framework picks its own port; the public URL must be known first, so the app runs itself.
            let server = Task { try await app.runService() }
            defer { server.cancel() }
            var up = false
            for _ in 0..<100 where !up {
                if let (_, answer) = try? await URLSession.shared.data(from: URL(string: base + "/assets/dashboard.css")!),
                   (answer as? HTTPURLResponse)?.statusCode == 200 { up = true } else { try await Task.sleep(for: .milliseconds(100)) }
            }
            XCTAssertTrue(up, "RosterFlow did not start on \(base)")
            do {
                let process = Process()
                process.executableURL = URL(fileURLWithPath: python)
                process.arguments = [root + "/Tests/RosterFlowServerTests/Peers/classlink_walk.py", base, world.integration,
                                     world.teacher.userID, world.student.userID, world.classTitle, artifacts]
                let log = world.fixture.folder + "/browser.log"
                _ = FileManager.default.createFile(atPath: log, contents: nil)
                let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
                process.standardOutput = handle
                process.standardError = handle
                try process.run()
                let deadline = Date().addingTimeInterval(180)
                while process.isRunning, Date() < deadline { try await Task.sleep(for: .milliseconds(200)) }
                if process.isRunning { process.terminate() }
                process.waitUntilExit()
                try handle.close()
                let output = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
                XCTAssertEqual(process.terminationStatus, 0, "the browser walk failed (screenshots in \(artifacts)):\n\(output.suffix(6_000))")
                XCTAssertTrue(output.hasSuffix("ok\n"), output.suffix(2_000).description)
            }
            // What the browser did is in the database: the class imported by the teacher, the student placed.
            let placements = try world.fixture.service.placements(student: world.student.sourcedID, integrationID: world.integration)
            XCTAssertEqual(placements.first { $0.classSourcedID == "cls-1" }?.status, "placed")
            for shot in ["teacher-classes.png", "teacher-imported.png", "student-placed.png"] {
                XCTAssertTrue(FileManager.default.fileExists(atPath: artifacts + "/" + shot), "no screenshot \(shot)")
            }
        }
    }
}
