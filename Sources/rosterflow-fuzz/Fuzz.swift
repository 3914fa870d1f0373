import Foundation
import OneRoster

/// libFuzzer entry point over the CSV reader and the manifest parser.
///
/// The first byte picks the target: even, the CSV reader with tiny caps (fields, records and field counts must stay
/// within them); odd, a bundle whose manifest.csv is the rest of the input, read with a small valid users.csv (every
/// row read must be loaded or quarantined). A violated invariant traps, which libFuzzer reports with the input.
/// Build and run (Linux): see README, "Untrusted bundles".
@_cdecl("LLVMFuzzerTestOneInput")
public func rosterflowFuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    guard let selector = bytes.first else { return 0 }
    let input = Array(bytes.dropFirst())
    if selector & 1 == 0 {
        fuzzCSV(input)
    } else {
        fuzzManifest(input)
    }
    return 0
}

let fuzzLimits = InputLimits(maxFieldBytes: 48, maxRowBytes: 160, maxColumns: 7)

func fuzzCSV(_ input: [UInt8]) {
    let reader = CSVRecordReader(bytes: input, limits: fuzzLimits)
    var lastLine = 0
    while (try? reader.next()) == true {
        precondition(reader.line >= lastLine, "line numbers go back")
        lastLine = reader.line
        precondition(reader.fieldCount <= fuzzLimits.maxColumns, "too many fields kept")
        var total = 0
        for i in 0..<reader.fieldCount {
            let n = reader.withField(i) { $0.count }
            precondition(n <= fuzzLimits.maxFieldBytes, "field over the cap")
            total += n
            _ = reader.fieldIfValid(i)
        }
        precondition(total <= fuzzLimits.maxRowBytes, "record over the cap")
    }
}

/// One folder per process, rewritten for each input.
let fuzzFolder: URL = {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("rosterflow-fuzz-\(getpid())", isDirectory: true)
    try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    let users = """
        sourcedId,status,dateLastModified,enabledUser,orgSourcedIds,role,username,userIds,givenName,familyName,middleName,identifier,email,sms,phone,agentSourcedIds,grades,password
        t-1,,,true,org-s1,teacher,tina,,Tina,Teach,,,,,,,,
        s-1,,,true,org-s1,student,sam,,Sam,Stu,,,,,,t-1,09,

        """
    let orgs = "sourcedId,status,dateLastModified,name,type,identifier,parentSourcedId\norg-s1,,,High,school,,\n"
    try? Data(users.utf8).write(to: url.appendingPathComponent("users.csv"))
    try? Data(orgs.utf8).write(to: url.appendingPathComponent("orgs.csv"))
    return url
}()

func fuzzManifest(_ input: [UInt8]) {
    let folder = fuzzFolder
    try? Data(input).write(to: folder.appendingPathComponent("manifest.csv"))
    let reader = OneRosterBundleReader(options: .init(limits: InputLimits(maxFieldBytes: 256, maxRowBytes: 1_024, maxColumns: 16)))
    guard let bundle = try? reader.read(at: folder) else { return }
    for summary in bundle.report.files where summary.present {
        precondition(summary.rowsLoaded + summary.rowsQuarantined == summary.rowsRead, "\(summary.file) lost rows")
    }
    for row in bundle.quarantined { precondition(!row.reasons.isEmpty, "quarantined without a reason") }
}

#if LIBFUZZER
/// libFuzzer's driver (linked by `-sanitize=fuzzer`), run from our own entry point.
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(
    _ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
    _ callback: @convention(c) (UnsafePointer<UInt8>, Int) -> CInt) -> CInt

@main
struct FuzzMain {
    static func main() {
        atexit { try? FileManager.default.removeItem(at: fuzzFolder) }
        var argc = CommandLine.argc
        var argv = CommandLine.unsafeArgv
        exit(LLVMFuzzerRunDriver(&argc, &argv) { data, size in rosterflowFuzz(data, size) })
    }
}
#else
/// Without libFuzzer: runs the entry point once on each file named on the command line (to replay a crash input).
@main
struct FuzzReplay {
    static func main() throws {
        for path in CommandLine.arguments.dropFirst() {
            let data = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
            _ = data.withUnsafeBufferPointer { rosterflowFuzz($0.baseAddress ?? UnsafePointer(bitPattern: 1)!, $0.count) }
            print("ok: \(path)")
        }
        try? FileManager.default.removeItem(at: fuzzFolder)
    }
}
#endif
