import RosterFlowCore

extension RosterFlowError.Code {
    /// The process exit code the CLI returns for an error with this code (sysexits where one fits; see the README's
    /// exit table). The mapping belongs to the CLI: another front end maps the same codes its own way.
    var exitCode: Int32 {
        switch self {
        case .refused: 3
        case .stale: 4
        case .conflict: 5
        case .invalidInput: 64  // EX_USAGE
        case .notFound: 66  // EX_NOINPUT
        case .unavailable: 69  // EX_UNAVAILABLE
        case .unexpected: 70  // EX_SOFTWARE
        case .storage: 74  // EX_IOERR
        case .busy: 75  // EX_TEMPFAIL
        case .workflowDefinition: 78  // EX_CONFIG
        case .cancelled: 130
        }
    }
}
