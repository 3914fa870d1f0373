import Foundation
import OneRoster

/// Says on stderr which `ROSTERFLOW_MAX_*` input limit is set to something that is not a number (its default is used).
func warnAboutInputLimitKnobs() {
    for problem in InputLimits.environmentProblems() {
        FileHandle.standardError.write(Data("warning: \(problem)\n".utf8))
    }
}

/// On SIGINT or SIGTERM, removes the temporary folders of zips being read, then ends the process as the signal would
/// have. For `validate`; `sync run`, `sync due` and `sync approve` cancel on a signal instead (see `Cancel`), the worker
/// drains on SIGTERM, and a reader that returns or throws removes its folder itself.
func removeExtractedBundlesOnSignals() {
    _ = SignalWatch.watch([SIGINT, SIGTERM]) { number in
        OneRosterBundleReader.removeTemporaryFolders()
        SignalWatch.endAsSignal(number)
    }
}
