import Foundation
import OneRoster

/// Says on stderr which `ROSTERFLOW_MAX_*` input limit is set to something that is not a number (its default is used).
func warnAboutInputLimitKnobs() {
    for problem in InputLimits.environmentProblems() {
        FileHandle.standardError.write(Data("warning: \(problem)\n".utf8))
    }
}

/// Where signal handlers run: a queue of their own, which gets a thread even while the global queues' threads are all
/// busy (Swift's cooperative pool runs on those on Linux, and a long read can occupy them until it ends: a validate
/// once finished and exited 0 before its SIGINT handler ran).
let signalQueue = DispatchQueue(label: "rosterflow.signals")

/// Keeps the signal sources alive for the life of the process.
nonisolated(unsafe) private var bundleSignalSources: [DispatchSourceSignal] = []

/// On SIGINT or SIGTERM, removes the temporary folders of zips being read, then ends the process as the signal would
/// have. For `validate`; `sync run`, `sync due` and `sync approve` cancel on a signal instead (see `Cancel`), the worker
/// drains on SIGTERM, and a reader that returns or throws removes its folder itself.
func removeExtractedBundlesOnSignals() {
    for sig in [SIGINT, SIGTERM] {
        signal(sig, SIG_IGN)
        let source = DispatchSource.makeSignalSource(signal: sig, queue: signalQueue)
        source.setEventHandler {
            OneRosterBundleReader.removeTemporaryFolders()
            signal(sig, SIG_DFL)
            kill(getpid(), sig)
        }
        source.resume()
        bundleSignalSources.append(source)
    }
}
