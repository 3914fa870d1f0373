import Foundation
import OneRoster

/// Says on stderr which `ROSTERFLOW_MAX_*` input limit is set to something that is not a number (its default is used).
func warnAboutInputLimitKnobs() {
    for problem in InputLimits.environmentProblems() {
        FileHandle.standardError.write(Data("warning: \(problem)\n".utf8))
    }
}
