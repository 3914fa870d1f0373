import CodedErrors

/// One problem found while loading or validating a workflow definition.
///
/// Codes are stable (scripts may match on them); messages name the file, line and state so a person can fix it.
public struct WorkflowProblem: Error, Sendable, Hashable, Codable, CustomStringConvertible {
    /// Stable problem codes.
    public enum Code: String, Sendable, Codable, CaseIterable {
        case yamlSyntax = "yaml-syntax"
        case missingField = "missing-field"
        case badValue = "bad-value"
        case unknownKey = "unknown-key"
        case unknownTargetState = "unknown-target-state"
        case unknownInitialState = "unknown-initial-state"
        case unknownGuard = "unknown-guard"
        case unknownEffect = "unknown-effect"
        case unknownRole = "unknown-role"
        case missingRoles = "missing-roles"
        case unreachableState = "unreachable-state"
        case deadEnd = "dead-end"
        case duplicateEvent = "duplicate-event"
        case duplicateKey = "duplicate-key"
        /// A YAML anchor or alias: refused before anything is expanded.
        case yamlAlias = "yaml-alias"
        case badDuration = "bad-duration"
        case timerEventUndefined = "timer-event-undefined"
        case finalStateHasEvents = "final-state-has-events"
        case unreachableCandidate = "unreachable-candidate"
        case duplicateWorkflow = "duplicate-workflow"
        /// A state the code relies on (e.g. `on_hold`) is not defined.
        case missingRequiredState = "missing-required-state"
        /// An event the code sends (e.g. `hold`) is not accepted in any state.
        case missingRequiredEvent = "missing-required-event"
        /// A migration plan names a workflow version that is neither in the definitions folder nor in the database.
        case unknownVersion = "unknown-version"
        /// A migration plan maps a state the old version does not define.
        case unknownSourceState = "unknown-source-state"
        /// A state of the old version has no counterpart in the new one and the plan does not map it.
        case unmappedState = "unmapped-state"
        /// A migration plan's split names a condition that is not implemented.
        case unknownCondition = "unknown-condition"
        /// A migration plan moves instances into or out of a final state.
        case finalStateMoved = "final-state-moved"
    }

    public var code: Code
    public var location: SourceLocation
    /// The state the problem is in, when it is in one.
    public var state: String?
    public var message: String

    /// A problem with its code, its place, the state it is in (when it is in one) and a message a person can act on.
    public init(_ code: Code, at location: SourceLocation, state: String? = nil, _ message: String) {
        self.code = code
        self.location = location
        self.state = state
        self.message = message
    }

    /// `file:line: [code] state 'x': message`
    public var description: String {
        let where_ = state.map { " state '\($0)':" } ?? ""
        return "\(location): [\(code.rawValue)]\(where_) \(message)"
    }
}

/// All the problems found in one or more workflow files.
public struct WorkflowValidationError: CodedError {
    /// The one code: each problem has its own (``WorkflowProblem/Code``).
    public enum Code: String, Sendable, Codable {
        /// One or more definitions have problems; ``WorkflowValidationError/problems`` lists them.
        case invalidDefinitions = "invalid-workflow"
    }

    public var problems: [WorkflowProblem]
    public var site: ThrowSite

    /// An error listing every problem found; the caller's file and line are its ``site``.
    public init(problems: [WorkflowProblem], fileID: String = #fileID, fileLine: Int = #line) {
        self.problems = problems
        self.site = ThrowSite(fileID: fileID, line: fileLine)
    }

    public var code: Code { .invalidDefinitions }

    /// How many problems, then each on its own line with its file, line and state.
    public var message: String {
        "\(problems.count) problem\(problems.count == 1 ? "" : "s") in workflow definitions:\n"
            + problems.map { "  " + $0.description }.joined(separator: "\n")
    }
}
