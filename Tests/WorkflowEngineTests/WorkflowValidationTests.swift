import WorkflowEngine
import XCTest

/// Every class of load-time problem, each pointing at the file, line and state to fix.
final class WorkflowValidationTests: XCTestCase {
    let validator = WorkflowValidator(knownGuards: ["existing_customer"], knownEffects: ["notify", "store_mapping"])

    func problems(_ yaml: String, file: String = "test.yaml") -> [WorkflowProblem] {
        let (definition, parseProblems) = WorkflowLoader.parse(yaml: yaml, file: file)
        return parseProblems + (definition.map(validator.validate) ?? [])
    }

    func testShippedDefinitionsAreValid() throws {
        let catalog = try WorkflowCatalog.load(from: TestPaths.workflows, validator: WorkflowValidator())
        XCTAssertEqual(Set(catalog.definitions.keys), ["integration", "course-mapping", "class-import"])
        XCTAssertEqual(catalog["integration"]?.initialState, "requested")
        XCTAssertEqual(catalog["course-mapping"]?.states["locked"]?.isFinal, true)
        XCTAssertEqual(catalog["course-mapping"]?.states["mapped"]?.timers.first?.duration.seconds, 3 * 86_400)
    }

    func testUnknownTargetStateNamesLineStateAndSuggestion() {
        let found = problems("""
            workflow: w
            version: 1
            initial: a
            states:
              a:
                on:
                  go: { to: bb, roles: [system] }
              b:
                final: true
            """)
        let problem = found.first { $0.code == .unknownTargetState }
        XCTAssertEqual(problem?.location.line, 7)
        XCTAssertEqual(problem?.state, "a")
        XCTAssertTrue(problem?.message.contains("did you mean 'b'") ?? false, problem?.message ?? "")
    }

    func testUnknownGuardAndEffect() {
        let found = problems("""
            workflow: w
            version: 1
            initial: a
            states:
              a:
                enter: [notfy]
                on:
                  go: { to: b, guard: is_customer, roles: [system] }
              b:
                final: true
            """)
        XCTAssertEqual(found.map(\.code).sorted { $0.rawValue < $1.rawValue }, [.unknownEffect, .unknownGuard])
        XCTAssertEqual(found.first { $0.code == .unknownGuard }?.location.line, 8)
        XCTAssertEqual(found.first { $0.code == .unknownEffect }?.location.line, 6)
        XCTAssertTrue(found.first { $0.code == .unknownEffect }!.message.contains("did you mean 'notify'"))
    }

    func testUnreachableStateAndDeadEnd() {
        let found = problems("""
            workflow: w
            version: 1
            initial: a
            states:
              a:
                on:
                  go: { to: b, roles: [system] }
              b:
                on:
                  stay_here: { to: b, roles: [system] }
              island:
                final: true
            """)
        let unreachable = found.first { $0.code == .unreachableState }
        XCTAssertEqual(unreachable?.state, "island")
        XCTAssertEqual(unreachable?.location.line, 11)
        let deadEnd = found.first { $0.code == .deadEnd }
        XCTAssertEqual(deadEnd?.state, "b")
        XCTAssertEqual(deadEnd?.location.line, 8)
    }

    func testDuplicateEventsAreAllReported() {
        let found = problems("""
            workflow: w
            version: 1
            initial: a
            states:
              a:
                on:
                  go: { to: b, roles: [system] }
                  go: { to: b, roles: [dsp] }
              b:
                on:
                  back: { to: a, roles: [system] }
                  back: { to: a, roles: [system] }
            """)
        let duplicates = found.filter { $0.code == .duplicateEvent }
        XCTAssertEqual(duplicates.map(\.location.line), [8, 12])
        XCTAssertEqual(duplicates.map(\.state), ["a", "b"])
    }

    func testCandidatesInBlockListsAreNotDuplicates() {
        let found = problems("""
            workflow: w
            version: 1
            initial: a
            states:
              a:
                on:
                  go:
                    - to: b
                      guard: existing_customer
                      roles: [system]
                    - to: b
                      roles: [system]
              b:
                final: true
            """)
        XCTAssertEqual(found, [])
    }

    func testBadDurationAndTimerWithoutEvent() {
        let found = problems("""
            workflow: w
            version: 1
            initial: a
            states:
              a:
                after: { P3X: remind, P1D: nudge }
                on:
                  go: { to: b, roles: [system] }
              b:
                final: true
            """)
        XCTAssertEqual(found.first { $0.code == .badDuration }?.location.line, 6)
        XCTAssertTrue(found.first { $0.code == .badDuration }!.message.contains("P3X"))
        XCTAssertEqual(found.first { $0.code == .timerEventUndefined }?.state, "a")
    }

    func testRolesAreRequiredAndChecked() {
        let found = problems("""
            workflow: w
            version: 1
            initial: a
            states:
              a:
                on:
                  go: { to: b }
                  come: { to: b, roles: [teacher] }
              b:
                final: true
            """)
        XCTAssertEqual(found.first { $0.code == .missingRoles }?.location.line, 7)
        XCTAssertEqual(found.first { $0.code == .unknownRole }?.location.line, 8)
    }

    func testFinalStateWithEventsUnknownKeyAndInitial() {
        let found = problems("""
            workflow: w
            version: 1
            initial: start
            states:
              a:
                on:
                  go: { to: b, roles: [system], too: c }
              b:
                final: true
                on:
                  back: { to: a, roles: [system] }
            """)
        let codes = Set(found.map(\.code))
        XCTAssertTrue(codes.isSuperset(of: [.unknownInitialState, .unknownKey, .finalStateHasEvents]), "\(codes)")
        XCTAssertEqual(found.first { $0.code == .unknownKey }?.location.line, 7)
    }

    func testUnreachableCandidateAfterUnguardedOne() {
        let found = problems("""
            workflow: w
            version: 1
            initial: a
            states:
              a:
                on:
                  go:
                    - { to: b, roles: [system] }
                    - { to: b, guard: existing_customer, roles: [system] }
              b:
                final: true
            """)
        XCTAssertEqual(found.map(\.code), [.unreachableCandidate])
        XCTAssertEqual(found.first?.location.line, 9)
    }

    func testYamlSyntaxErrorHasLine() {
        let found = problems("workflow: w\nversion: 1\nstates:\n  a: [unclosed\n")
        XCTAssertEqual(found.first?.code, .yamlSyntax)
        XCTAssertGreaterThan(found.first?.location.line ?? 0, 0)
    }

    func testMissingVersionAndBadVersion() {
        XCTAssertTrue(problems("workflow: w\ninitial: a\nstates:\n  a:\n    final: true\n").contains { $0.code == .missingField })
        XCTAssertTrue(problems("workflow: w\nversion: one\ninitial: a\nstates:\n  a:\n    final: true\n").contains { $0.code == .badValue })
    }

    func testCatalogReportsEveryProblemInEveryFile() throws {
        let folder = try TestPaths.temporaryFolder()
        try "workflow: x\nversion: 1\ninitial: a\nstates:\n  a:\n    on:\n      go: { to: nowhere, roles: [system] }\n"
            .write(toFile: folder + "/one.yaml", atomically: true, encoding: .utf8)
        try "workflow: y\nversion: 1\ninitial: a\nstates:\n  a:\n    after: { soon: go }\n    on:\n      go: { to: a, roles: [system] }\n"
            .write(toFile: folder + "/two.yaml", atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try WorkflowCatalog.load(from: folder)) { error in
            let problems = (error as? WorkflowValidationError)?.problems ?? []
            XCTAssertTrue(problems.contains { $0.code == .unknownTargetState && $0.location.file.hasSuffix("one.yaml") })
            XCTAssertTrue(problems.contains { $0.code == .badDuration && $0.location.file.hasSuffix("two.yaml") })
            XCTAssertTrue(problems.contains { $0.code == .deadEnd && $0.location.file.hasSuffix("two.yaml") })
        }
    }

    func testDuplicateWorkflowNameAcrossFiles() throws {
        let folder = try TestPaths.temporaryFolder()
        let text = "workflow: x\nversion: 1\ninitial: a\nstates:\n  a:\n    final: true\n"
        try text.write(toFile: folder + "/a.yaml", atomically: true, encoding: .utf8)
        try text.write(toFile: folder + "/b.yaml", atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try WorkflowCatalog.load(from: folder)) { error in
            XCTAssertEqual((error as? WorkflowValidationError)?.problems.map(\.code), [.duplicateWorkflow])
        }
    }

    func testISODurations() {
        XCTAssertEqual(ISODuration("P3D")?.seconds, 259_200)
        XCTAssertEqual(ISODuration("PT12H")?.seconds, 43_200)
        XCTAssertEqual(ISODuration("P1DT6H30M")?.seconds, 86_400 + 6 * 3_600 + 1_800)
        XCTAssertEqual(ISODuration("P2W")?.seconds, 14 * 86_400)
        for bad in ["P", "3D", "P1M", "PT", "P1H", "PT1D", "P0D", "P1D2", "PT1M1H"] {
            XCTAssertNil(ISODuration(bad), bad)
        }
    }
}

enum TestPaths {
    static var repositoryRoot: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
    }

    static var workflows: String { repositoryRoot + "/Workflows" }

    static func temporaryFolder() throws -> String {
        let path = NSTemporaryDirectory() + "rosterflow-test-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }
}

extension WorkflowValidationTests {
    func testADuplicateKeyIsReportedWithItsLine() {
        let found = problems("""
            workflow: w
            version: 1
            initial: a
            initial: b
            states:
              a:
                final: true
            """)
        let problem = found.first { $0.code == .duplicateKey }
        XCTAssertNotNil(problem, "\(found)")
        XCTAssertEqual(problem?.location.line, 4)
        XCTAssertEqual(problem?.location.file, "test.yaml")
    }
}

extension WorkflowValidationTests {
    /// A billion-laughs file (aliases nested nine deep) and a file of fanned-out aliases are refused at once, with
    /// their lines, before anything is expanded; `*` and `&` inside quoted or plain text are still fine.
    func testYAMLAnchorsAndAliasesAreRefusedBeforeExpansion() {
        var laughs = "workflow: w\nversion: 1\ninitial: a\nl0: &l0 [\"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\"]\n"
        for level in 1...9 {
            laughs += "l\(level): &l\(level) [" + Array(repeating: "*l\(level - 1)", count: 9).joined(separator: ", ") + "]\n"
        }
        laughs += "states:\n  a:\n    final: true\n"
        let found = problems(laughs)
        XCTAssertFalse(found.isEmpty)
        XCTAssertTrue(found.allSatisfy { $0.code == .yamlAlias }, "\(found)")
        XCTAssertEqual(found.first?.location.line, 4)
        XCTAssertLessThanOrEqual(found.count, 20, "reported once per line, capped")

        let fanned = """
            workflow: w
            version: 1
            initial: a
            states:
              a: &bad { on: { go: { to: nowhere, roles: [system] } } }
              b: *bad
              c: *bad
            """
        XCTAssertEqual(problems(fanned).map(\.code), [.yamlAlias, .yamlAlias, .yamlAlias])

        let text = """
            workflow: w
            version: 1
            initial: a
            states:
              a:
                task: { owner: dsp, todo: "Map *every* course & check {subject}" }
                final: true
              b:
                description: Research&Development keeps its ampersand, 2*3 its star
                final: true
            """
        XCTAssertFalse(problems(text).contains { $0.code == .yamlAlias }, "\(problems(text))")
    }
}
