import Foundation

/// State of one bundle read. Not shared between threads.
final class BundleReadSession {
    let options: OneRosterBundleReader.Options
    let held: any HeldSourcedIds
    let visitor: ((OneRosterRecord) throws -> Void)?

    @exclusivity(unchecked) var report = ValidationReport()
    @exclusivity(unchecked) var summaries: [String: FileSummary] = [:]
    @exclusivity(unchecked) var listedPerFileAndCode: [String: Int] = [:]
    @exclusivity(unchecked) var quarantined: [QuarantinedRow] = []
    /// Valid sourcedIds per entity, indexed by ``OneRosterEntity/ordinal``.
    @exclusivity(unchecked) var validIds = [SourcedIdSet](repeating: SourcedIdSet(), count: OneRosterEntity.allCases.count)
    @exclusivity(unchecked) var quarantinedIds: [OneRosterEntity: [String: Int]] = [:]
    /// The root cause (index in `rootCauses`) of each quarantined sourcedId.
    @exclusivity(unchecked) var quarantinedRoots: [OneRosterEntity: [String: Int]] = [:]
    @exclusivity(unchecked) var rootCauses: [RootCause] = []
    @exclusivity(unchecked) var fileRootCauses: [String: Int] = [:]
    /// The last sourcedId found in `validIds`, per entity (a one-entry cache for reference checks).
    @exclusivity(unchecked) var lastResolved = [String?](repeating: nil, count: OneRosterEntity.allCases.count)
    var manifest = Manifest()
    var manifestLines: [String: Int] = [:]
    var version: OneRosterVersion = .v1_1
    @exclusivity(unchecked) var bundle: OneRosterBundle
    @exclusivity(unchecked) var pendingUsers: [(User, Int)] = []
    @exclusivity(unchecked) var rolesByUser: [String: [RoleAssignment]] = [:]

    init(options: OneRosterBundleReader.Options, held: any HeldSourcedIds, visitor: ((OneRosterRecord) throws -> Void)?) {
        self.options = options
        self.held = held
        self.visitor = visitor
        bundle = OneRosterBundle(manifest: Manifest(), version: .v1_1, report: ValidationReport())
    }

    // MARK: issues

    func add(_ issue: ValidationIssue) {
        report.count(issue.severity, issue.code)
        let key = issue.file + "|" + issue.code.rawValue
        let n = listedPerFileAndCode[key, default: 0]
        if n < options.maxIssuesPerFileAndCode {
            listedPerFileAndCode[key] = n + 1
            report.issues.append(issue)
        } else {
            summaries[issue.file]?.issuesNotListed[issue.code.rawValue, default: 0] += 1
        }
    }

    func add(_ severity: Severity, _ code: IssueCode, file: String, line: Int? = nil, column: String? = nil,
             value: String? = nil, _ message: String, fix: String) {
        add(ValidationIssue(severity: severity, code: code, file: file, line: line, column: column, value: value,
                            message: message, fix: fix))
    }

    // MARK: top level

    func read(folder start: URL, subfolderNote: String?) throws -> OneRosterBundle {
        var folder = start
        var subfolder = subfolderNote
        let fm = FileManager.default
        var names = (try? fm.contentsOfDirectory(atPath: folder.path)) ?? []
        if !names.contains("manifest.csv") && !names.contains(where: { $0.lowercased().hasSuffix(".csv") }) {
            // Files inside one folder of the bundle folder?
            // Never through a symbolic link: only a real folder holding a real manifest.csv.
            for name in names.sorted() {
                let sub = folder.appendingPathComponent(name)
                if Self.fileType(sub.path) == S_IFDIR, Self.fileType(sub.appendingPathComponent("manifest.csv").path) != nil {
                    folder = sub
                    subfolder = name
                    names = (try? fm.contentsOfDirectory(atPath: sub.path)) ?? []
                    break
                }
            }
        }
        if let subfolder {
            add(.warning, .filesInSubfolder, file: "manifest.csv",
                "The CSV files are inside the folder `\(subfolder)` instead of at the top of the bundle; they were read from there.",
                fix: "Zip the CSV files themselves, not the folder that contains them.")
        }
        let csvNames = Set(names.filter { $0.lowercased().hasSuffix(".csv") })
        // Bundle files are read only if they are regular files: a symbolic link could hand a district's admin the first
        // line of any file RosterFlow can read, and a link to /dev/zero or a FIFO would never end.
        for name in csvNames.sorted() {
            var st = stat()
            guard lstat(folder.appendingPathComponent(name).path, &st) == 0 else { continue }
            if (st.st_mode & S_IFMT) != S_IFREG {
                throw OneRosterBundleError.notRegularFile(folder.path, name, fileKind(st.st_mode))
            }
        }

        try readManifest(folder: folder, present: csvNames.contains("manifest.csv"), csvNames: csvNames)
        checkFiles(csvNames: csvNames)
        options.manifestRead?(manifest)

        for file in OneRosterFile.rosteringFiles(in: version) {
            let mode = manifest.mode(of: file)
            guard mode != .absent, csvNames.contains(file.fileName) else { continue }
            if file == .demographics || file == .enrollments { try flushUsers() }
            try readFile(file, url: folder.appendingPathComponent(file.fileName), mode: mode)
        }
        try flushUsers()
        return finish()
    }

    /// The bundle read, its report's summaries and root causes in order.
    func finish() -> OneRosterBundle {
        // Summaries in a stable order.
        let order = OneRosterFile.rosteringFiles(in: version).map(\.fileName)
        report.files = summaries.values.sorted { a, b in
            let ia = order.firstIndex(of: a.file) ?? Int.max, ib = order.firstIndex(of: b.file) ?? Int.max
            return ia != ib ? ia < ib : a.file < b.file
        }
        report.rootCauses = rootCauses
        report.orderRootCauses()
        if report.rootCauses.count > Self.maxRootCausesListed {
            report.rootCausesNotListed = report.rootCauses.count - Self.maxRootCausesListed
            report.rootCauses.removeLast(report.rootCausesNotListed)
        }
        bundle.manifest = manifest
        bundle.version = version
        bundle.quarantined = quarantined
        bundle.report = report
        return bundle
    }

    /// The type bits of a path's own entry (a link is not followed), or nil if it does not exist.
    static func fileType(_ path: String) -> mode_t? {
        var st = stat()
        guard lstat(path, &st) == 0 else { return nil }
        return st.st_mode & S_IFMT
    }

    // MARK: manifest

    func readManifest(folder: URL, present: Bool, csvNames: Set<String>) throws {
        let name = "manifest.csv"
        manifest.isPresent = present
        if present, let reader = try openCSV(name, url: folder.appendingPathComponent(name)) {
            do {
                var first = true
                repeat {
                    let fields = (0..<reader.fieldCount).map { reader.fieldIfValid($0) ?? "" }
                    if reader.quirks.contains(.tooLong) || reader.quirks.contains(.tooManyFields) {
                        add(.error, .manifestBadValue, file: name, line: reader.line, value: reportExcerpt(fields.first ?? ""),
                            "This manifest row is longer than a manifest row can be; it was ignored.",
                            fix: "Write each manifest row as propertyName,value.")
                        first = false
                        continue
                    }
                    if first {
                        first = false
                        if fields.count < 2 || fields[0] != "propertyName" || fields[1] != "value" {
                            add(.warning, .manifestBadValue, file: name, line: reader.line,
                                value: fields.joined(separator: ","),
                                "The manifest header should be `propertyName,value`.",
                                fix: "Make the first line of manifest.csv exactly `propertyName,value`.")
                            if fields.first?.hasPrefix("file.") != true && fields.first?.contains(".") != true { continue }
                        } else {
                            continue
                        }
                    }
                    guard fields.count >= 2 else {
                        add(.warning, .manifestBadValue, file: name, line: reader.line, value: fields.first,
                            "This manifest row has no value.", fix: "Write each manifest row as propertyName,value.")
                        continue
                    }
                    let key = fields[0].trimmingCharacters(in: .whitespaces)
                    manifest.properties[key] = fields[1].trimmingCharacters(in: .whitespaces)
                    manifestLines[key] = reader.line
                } while try reader.next()
            } catch {
                add(.error, .manifestBadValue, file: name, "manifest.csv could not be read: \(error).",
                    fix: "Export the manifest again as UTF-8 CSV.")
            }
        } else {
            add(.error, .manifestMissing, file: name,
                "The bundle has no manifest.csv, so its OneRoster version and which files are bulk or delta are unknown. Files present were checked as if bulk, for this report only.",
                fix: "Export the bundle again including manifest.csv (propertyName,value rows: manifest.version, oneroster.version, file.<name>).")
        }
        let props = manifest.properties
        manifest.manifestVersion = props["manifest.version"]
        manifest.declaredVersion = props["oneroster.version"]
        manifest.sourceSystemName = props["source.systemName"]
        manifest.sourceSystemCode = props["source.systemCode"]
        if present && props["manifest.version"] == nil {
            add(.warning, .manifestBadValue, file: name, column: "manifest.version",
                "manifest.csv has no `manifest.version` row.", fix: "Add the row `manifest.version,1.0`.")
        }
        if let declared = manifest.declaredVersion, let v = OneRosterVersion(rawValue: declared) {
            version = v
        } else {
            version = inferVersion(folder: folder, csvNames: csvNames)
            if present {
                let what = manifest.declaredVersion.map { "`oneroster.version` is `\($0)`, which is not supported" }
                    ?? "manifest.csv has no `oneroster.version` row"
                add(.error, .manifestBadValue, file: name, line: manifestLines["oneroster.version"], column: "oneroster.version",
                    value: manifest.declaredVersion,
                    "\(what); the files were read as OneRoster \(version.rawValue) judging by their columns.",
                    fix: "Set `oneroster.version` to 1.1 or 1.2 in manifest.csv.")
            }
        }
        let defined = Set(OneRosterFile.files(in: version))
        var modes: [String: FileMode] = [:]
        for file in defined { modes[file.rawValue] = .absent }
        if present {
            for (key, value) in props.sorted(by: { $0.key < $1.key }) where key.hasPrefix("file.") {
                let fileKey = String(key.dropFirst(5))
                let line = manifestLines[key]
                guard let file = OneRosterFile(rawValue: fileKey), defined.contains(file) else {
                    add(.warning, .manifestUnknownFile, file: name, line: line, column: key, value: value,
                        "`\(key)` is not a file of OneRoster \(version.rawValue); the row was ignored.",
                        fix: "Remove the row or correct the file name (names are case-sensitive, e.g. file.academicSessions).")
                    continue
                }
                if let mode = FileMode(rawValue: value.lowercased()) {
                    modes[file.rawValue] = mode
                } else {
                    add(.error, .manifestBadValue, file: name, line: line, column: key, value: value,
                        "`\(key)` must be `absent`, `bulk` or `delta`; `\(value)` is not, so \(file.fileName) was treated as absent.",
                        fix: "Set \(key) to absent, bulk or delta.")
                }
            }
        } else {
            for file in defined where csvNames.contains(file.fileName) { modes[file.rawValue] = .bulk }
        }
        manifest.fileModes = modes
    }

    func inferVersion(folder: URL, csvNames: Set<String>) -> OneRosterVersion {
        if csvNames.contains("roles.csv") || csvNames.contains("userProfiles.csv") { return .v1_2 }
        if csvNames.contains("users.csv"), let reader = try? CSVRecordReader(url: folder.appendingPathComponent("users.csv")),
           (try? reader.next()) == true {
            let header = (0..<reader.fieldCount).compactMap { reader.fieldIfValid($0) }
            return header.contains("role") ? .v1_1 : .v1_2
        }
        return .v1_1
    }

    func checkFiles(csvNames: Set<String>) {
        let defined = OneRosterFile.files(in: version)
        let rostering = Set(OneRosterFile.rosteringFiles(in: version))
        for file in defined {
            let mode = manifest.mode(of: file)
            let present = csvNames.contains(file.fileName)
            if mode != .absent || present && rostering.contains(file) {
                summaries[file.fileName] = FileSummary(file: file.fileName, mode: mode, present: present)
            }
            if mode != .absent && !present {
                add(.error, .manifestMissingFile, file: file.fileName, line: nil, column: file.manifestKey, value: mode.rawValue,
                    "manifest.csv (line \(manifestLines[file.manifestKey].map(String.init) ?? "?")) says \(file.fileName) is \(mode.rawValue), but the bundle has no \(file.fileName). Nothing was loaded for it.",
                    fix: "Add \(file.fileName) to the bundle, or set \(file.manifestKey) to absent if there is nothing to send.")
            } else if mode == .absent && present {
                let listed = manifest.properties[file.manifestKey] != nil
                add(.warning, .fileNotInManifest, file: file.fileName,
                    listed ? "\(file.fileName) is in the bundle but manifest.csv says \(file.manifestKey)=absent, so the file was ignored."
                        : "\(file.fileName) is in the bundle but manifest.csv does not list \(file.manifestKey), so the file was ignored.",
                    fix: "Set \(file.manifestKey) to bulk or delta in manifest.csv, or leave \(file.fileName) out of the bundle.")
            } else if mode != .absent && present && !rostering.contains(file) {
                add(.info, .fileNotRead, file: file.fileName,
                    "\(file.fileName) is not a rostering file; it was not read.", fix: "Nothing to do.")
            }
        }
        let definedNames = Set(defined.map(\.fileName))
        for name in csvNames.sorted() where name != "manifest.csv" && !definedNames.contains(name) {
            let lower = name.lowercased()
            let near = defined.first { $0.fileName.lowercased() == lower }
            add(.warning, .fileNotInManifest, file: name,
                "\(name) is not a OneRoster \(version.rawValue) file, so it was ignored."
                    + (near.map { " File names are case-sensitive: did you mean \($0.fileName)?" } ?? ""),
                fix: near.map { "Rename the file to \($0.fileName)." } ?? "Remove \(name) from the bundle.")
        }
    }

    // MARK: reading one file

    /// Opens a bundle file for reading and reads its first record, turning what makes a file unreadable (not a regular
    /// file, not UTF-8) into bundle errors that name it. Returns `nil` for a file with no record at all.
    func openCSV(_ name: String, url: URL) throws -> CSVRecordReader? {
        do {
            let reader = try CSVRecordReader(url: url, limits: options.limits)
            return try reader.next() ? reader : nil
        } catch let error as CSVReadError where error.code == .notRegularFile {
            throw OneRosterBundleError.notRegularFile(url.deletingLastPathComponent().path, name, error.detail ?? "not a regular file")
        } catch let error as CSVReadError where error.code == .unsupportedEncoding {
            let encoding = error.detail ?? "not UTF-8"
            throw OneRosterBundleError.unreadableFile(
                name, "it is saved as \(encoding), not UTF-8, so none of its rows can be read (and it must not be taken for an empty file).",
                Self.reexportFix(name))
        }
    }

    static func reexportFix(_ name: String) -> String {
        "Export \(name) again as UTF-8 CSV (with or without a byte order mark), the encoding OneRoster requires; in Excel "
            + "choose “CSV UTF-8 (Comma delimited)”, not “Unicode Text” or “UTF-16”."
    }

    func readFile(_ file: OneRosterFile, url: URL, mode fileMode: FileMode) throws {
        guard FileSchema.schema(for: file, version: version) != nil, file.entity != nil else { return }
        let name = file.fileName
        guard let reader = try openCSV(name, url: url) else {
            add(.error, .emptyFile, file: name,
                "\(name) is marked \(fileMode.rawValue) in the manifest but is empty (not even a header). Nothing was loaded for it.",
                fix: "Export \(name) again, or set \(file.manifestKey) to absent if there is nothing to send.")
            return
        }
        let headerLine = reader.line
        let limits = options.limits
        if reader.quirks.contains(.tooManyFields) {
            throw OneRosterBundleError.unreadableFile(
                name, "its header has more than \(limits.maxColumns) columns, the most a file may have.",
                "Export only the OneRoster columns of \(name) (and the metadata.* columns you need); if the export is genuine, set ROSTERFLOW_MAX_COLUMNS to raise the limit.")
        }
        if reader.quirks.contains(.tooLong) {
            throw OneRosterBundleError.unreadableFile(
                name, "its header line is longer than the caps allow (\(limits.maxFieldBytes / 1024) KiB per column name, \(limits.maxRowBytes / 1024) KiB per line), so it is not a CSV header.",
                Self.reexportFix(name))
        }
        var header: [String] = []
        header.reserveCapacity(reader.fieldCount)
        for i in 0..<reader.fieldCount {
            guard let h = reader.fieldIfValid(i) else {
                throw OneRosterBundleError.unreadableFile(
                    name, "column \(i + 1) of its header is not valid UTF-8, so its columns cannot be matched.", Self.reexportFix(name))
            }
            header.append(h)
        }
        // Avoid regrowing while reading big files: assume rows of at least ~48 bytes.
        let size = (try? FileManager.default.attributesOfItem(atPath: url.path)[.size] as? NSNumber)?.intValue ?? 0
        // The rows are split into fields on a thread of their own, ahead of the checks.
        let rows = ParsedCSVRows(reader)
        defer { rows.stop() }
        try readRows(file, header: header, headerLine: headerLine, mode: fileMode, expectedRows: size / 48, next: rows.next)
    }

    /// Checks and loads the data rows of `file` under `header` (on `headerLine`), each taken from `next` until it
    /// answers `nil`: the rows of a CSV file, or rows handed over in memory (``RosterRowTable``).
    func readRows(_ file: OneRosterFile, header: [String], headerLine: Int, mode fileMode: FileMode, expectedRows: Int,
                  next: () throws -> ParsedCSVRows.Row?) throws {
        guard let schema = FileSchema.schema(for: file, version: version), let entity = file.entity else { return }
        let name = file.fileName
        if !header.contains(where: { schema.columns.contains($0) }) {
            throw OneRosterBundleError.unreadableFile(
                name, "its first line (`\(reportExcerpt(header.joined(separator: ",")))`) names none of the columns of \(name), so it is not a header and no row can be read.",
                "Export \(name) again with its header row first (e.g. `\(schema.columns.prefix(3).joined(separator: ","))…`), as UTF-8 CSV with commas.")
        }
        let map = analyzeHeader(header, schema: schema, file: file, mode: fileMode, line: headerLine)
        let requiredColumns = schema.required.union(fileMode == .delta ? ["status", "dateLastModified"] : [])
        let missingColumns = schema.columns.filter { requiredColumns.contains($0) && map.index[$0] == nil }

        var seen = SourcedIdRegistry(expected: min(expectedRows, 8_000_000))
        var deferred: [(OneRosterRecord, RowContext)] = []
        var rowsRead = 0, loaded = 0, rejected = 0
        var refBuffer: [PendingRef] = []
        refBuffer.reserveCapacity(16)
        var fields: [String] = []
        let sourcedIdColumn = map.pos[Col.sourcedId.rawValue]

        /// Adds the row's issues and keeps the row as quarantined, under its root cause.
        func quarantine(_ ctx: RowContext) {
            rejected += 1
            let root = rootCause(of: ctx, missingColumns: missingColumns)
            let rootID = rootCauses[root].id
            for var issue in ctx.issues {
                // Issues about a quarantined referent name the problem the referent follows from.
                if let marker = issue.rootCause {
                    issue.rootCause = followedRoot(marker).map { rootCauses[$0].id }
                }
                add(issue)
            }
            if let id = ctx.sourcedId, !validIds[entity.ordinal].contains(id) {
                if quarantinedIds[entity]?[id] == nil { quarantinedIds[entity, default: [:]][id] = ctx.line }
                if quarantinedRoots[entity]?[id] == nil { quarantinedRoots[entity, default: [:]][id] = root }
            }
            // One pass over the row's own fields (not the header: a short row under a very wide header costs its own
            // length), each value cut to an excerpt.
            var values: [String: String] = [:]
            let fieldCount = ctx.fields.count
            values.reserveCapacity(fieldCount)
            for i in 0..<fieldCount {
                let key = i < header.count ? header[i] : "(extra field \(i + 1))"
                values[key] = reportExcerpt(ctx.fields[i])
            }
            quarantined.append(QuarantinedRow(file: name, line: ctx.line, sourcedId: ctx.sourcedId, values: values,
                                              reasons: ctx.reasons, rootCause: rootID))
        }

        func accept(_ record: OneRosterRecord, _ ctx: RowContext) throws {
            loaded += 1
            for issue in ctx.issues { add(issue) }
            if let id = ctx.sourcedId, entity != .enrollment && entity != .demographics {
                validIds[entity.ordinal].insert(id)
            }
            try emit(record, line: ctx.line)
        }

        while let row = try next() {
            rowsRead += 1
            let line = row.line
            fields = row.fields
            let badUTF8 = row.badUTF8
            var ctx = RowContext(file: file, line: line, fields: fields, map: map, version: version, mode: fileMode,
                                 checkGrades: options.checkGradeCodes)
            ctx.tolerance = options.tolerance
            // Reuse one buffer for the row's references instead of allocating one per row.
            swap(&ctx.refs, &refBuffer)
            defer {
                if !ctx.refs.isEmpty || ctx.refs.capacity > refBuffer.capacity {
                    swap(&ctx.refs, &refBuffer)
                    refBuffer.removeAll(keepingCapacity: true)
                }
            }
            if sourcedIdColumn >= 0, sourcedIdColumn < fields.count, !isBlank(fields[sourcedIdColumn]) {
                ctx.sourcedId = fields[sourcedIdColumn]
            }
            let quirks = row.quirks
            if quirks.contains(.lineBreakInField) {
                ctx.warn(.lineBreakInField, column: nil, value: nil,
                         "A quoted value on this row contains a line break, which OneRoster does not allow; it was read as part of the value.",
                         fix: "Remove line breaks from values in the source system (e.g. in addresses or titles).")
            }
            if quirks.contains(.strayQuote) {
                ctx.warn(.badQuoting, column: nil, value: nil,
                         "A double quote on this row is not escaped properly (a value containing `\"` must be quoted and the quote doubled); it was kept as written.",
                         fix: "Quote values that contain double quotes and double the inner quotes.")
            }
            if quirks.contains(.nulByte) {
                ctx.warn(.nulByte, column: nil, value: nil,
                         "A value on this row contains a NUL byte (\\u{0}); it was kept, but other tools may cut the value there.",
                         fix: "Remove NUL characters from values in the source system and export again.")
            }
            if quirks.contains(.unterminatedQuote) {
                ctx.error(.badQuoting, column: nil, value: nil,
                          "The file ends inside a quoted value that was never closed; the file may have been cut off. The row was not loaded.",
                          fix: "Export \(name) again and check that it is complete.")
            }
            for i in badUTF8 {
                let column = i < header.count ? header[i] : "field \(i + 1)"
                ctx.add(.error, .invalidUTF8, columnName: column, value: fields[i],
                          "The value of `\(column)` is not valid UTF-8 (shown with replacement characters). The row was not loaded.",
                          fix: "Export \(name) as UTF-8 (not Windows-1252 or Latin-1).")
            }
            if quirks.contains(.tooLong) || quirks.contains(.tooManyFields) {
                let limits = options.limits
                if quirks.contains(.tooLong) {
                    ctx.error(.rowTooLarge, column: nil, value: nil,
                              "A value on this row is longer than \(limits.maxFieldBytes / 1024) KiB, or the row longer than \(limits.maxRowBytes / 1024) KiB, the most a bundle may hold; it was cut and the row was not loaded.",
                              fix: "Check the row in the source system (a document pasted into a field, or a quote that was never closed); set ROSTERFLOW_MAX_FIELD_KB or ROSTERFLOW_MAX_ROW_KB to raise the limit if the value is genuine.")
                }
                if quirks.contains(.tooManyFields) {
                    ctx.error(.rowTooLarge, column: nil, value: nil,
                              "This row has more than \(limits.maxColumns) values, the most a row may have; it was not loaded.",
                              fix: "Check the row for unquoted commas; set ROSTERFLOW_MAX_COLUMNS to raise the limit if the export is genuine.")
                }
                quarantine(ctx)
                continue
            }
            if fields.count != header.count {
                ctx.error(.wrongFieldCount, column: nil, value: nil,
                          "This row has \(fields.count) value\(fields.count == 1 ? "" : "s") but the header has \(header.count) columns, so values cannot be matched to columns. The row was not loaded.",
                          fix: fields.count < header.count
                            ? "Check the row for a missing comma or a line cut short (the file may be truncated)."
                            : "Check the row for an unquoted comma inside a value; quote such values.")
                quarantine(ctx)
                continue
            }
            if !badUTF8.isEmpty {
                quarantine(ctx)
                continue
            }
            let record = decode(file, &ctx)
            if let id = ctx.sourcedId {
                if let first = seen.firstLine(ifRepeated: id, line: Int32(truncatingIfNeeded: line)) {
                    ctx.error(.duplicateSourcedId, column: .sourcedId, value: id,
                              "sourcedId `\(id)` was already used on line \(first) of \(name); this second row was not loaded.",
                              fix: "Give every row its own sourcedId, or remove the duplicate row.")
                }
            }
            if ctx.status == .tobedeleted { ctx.refs.removeAll() }
            var selfRefs = false
            for ref in ctx.refs {
                if ref.entity == entity { selfRefs = true; continue }
                if !resolves(ref) { reportDangling(ref, &ctx) }
            }
            guard let record, !ctx.failed else {
                quarantine(ctx)
                continue
            }
            if selfRefs {
                deferred.append((record, ctx))
            } else {
                try accept(record, ctx)
            }
        }

        // Rows referring to rows of the same file (parents, agents): check now that the whole file is known. A row
        // loads when each such reference names a record that is valid already (or held) or another of these rows that
        // loads. Rows whose reference names nothing fail first, and the failure spreads back along the references,
        // each row visited once: linear in the rows and references, however long the chains.
        if !deferred.isEmpty {
            var indexByID: [String: Int] = [:]
            indexByID.reserveCapacity(deferred.count)
            for k in deferred.indices { if let id = deferred[k].1.sourcedId { indexByID[id] = k } }
            var referrers = [[Int]](repeating: [], count: deferred.count)
            var alive = [Bool](repeating: true, count: deferred.count)
            var failing: [Int] = []
            func fail(_ k: Int) {
                alive[k] = false
                failing.append(k)
                if let id = deferred[k].1.sourcedId, quarantinedIds[entity]?[id] == nil {
                    quarantinedIds[entity, default: [:]][id] = deferred[k].1.line
                }
            }
            for k in deferred.indices {
                var missing = false
                for ref in deferred[k].1.refs where ref.entity == entity && !ref.soft {
                    if let target = indexByID[ref.value] {
                        referrers[target].append(k)
                    } else if !resolves(ref) {
                        missing = true
                    }
                }
                if missing { fail(k) }
            }
            var next = 0
            while next < failing.count {
                let k = failing[next]
                next += 1
                // Report every reference of this row that names nothing loadable (a row that failed before it was
                // recorded as quarantined, so the message points at its line).
                for ref in deferred[k].1.refs where ref.entity == entity && !ref.soft {
                    if let target = indexByID[ref.value] {
                        if !alive[target] { reportDangling(ref, &deferred[k].1) }
                    } else if !resolves(ref) {
                        reportDangling(ref, &deferred[k].1)
                    }
                }
                for r in referrers[k] where alive[r] { fail(r) }
            }
            for k in deferred.indices {
                if alive[k] {
                    // Optional references of the same file that name nothing loadable: loaded, left unresolved.
                    for ref in deferred[k].1.refs where ref.entity == entity && ref.soft {
                        if let target = indexByID[ref.value] {
                            if !alive[target] { reportDangling(ref, &deferred[k].1) }
                        } else if !resolves(ref) {
                            reportDangling(ref, &deferred[k].1)
                        }
                    }
                    try accept(deferred[k].0, deferred[k].1)
                } else {
                    quarantine(deferred[k].1)
                }
            }
        }

        for column in missingColumns {
            let misspelt = header.first { h in map.index[h] != nil && schema.nearMiss(of: h) == column && !schema.columns.contains(h) }
            add(.error, .missingRequiredColumn, file: name, line: headerLine, column: column,
                "The header has no `\(column)` column, which every row of \(name)\(fileMode == .delta && (column == "status" || column == "dateLastModified") ? " in a delta file" : "") needs; all \(rowsRead) data rows were quarantined."
                    + (misspelt.map { " The header `\($0)` looks like a misspelling of it." } ?? ""),
                fix: misspelt.map { "Rename the header `\($0)` to `\(column)`." } ?? "Add the `\(column)` column (exact, case-sensitive name) to the export.")
        }
        if rowsRead == 0 {
            add(.error, .emptyFile, file: name, line: headerLine,
                "\(name) is marked \(fileMode.rawValue) in the manifest but has no data rows after the header (the export may have been cut off). Nothing was loaded for it\(fileMode == .bulk ? "; a bulk file with no rows would otherwise mean every \(entity.noun) was deleted" : "").",
                fix: "Export \(name) again; if there is really nothing to send, set \(file.manifestKey) to absent and leave the file out.")
        }
        summaries[name, default: FileSummary(file: name, mode: fileMode, present: true)].rowsRead = rowsRead
        summaries[name]?.rowsLoaded = loaded
        summaries[name]?.rowsQuarantined = rejected
    }

    func analyzeHeader(_ header: [String], schema: FileSchema, file: OneRosterFile, mode: FileMode, line: Int) -> ColumnMap {
        let name = file.fileName
        var index: [String: Int] = [:]
        var ext: [Int] = []
        let defined = Set(schema.columns)
        let headerSet = Set(header)
        for (i, h) in header.enumerated() {
            if index[h] != nil {
                add(.warning, .duplicateHeader, file: name, line: line, column: h,
                    "The column `\(h)` appears more than once in the header; only the first one (column \(index[h]! + 1)) was used.",
                    fix: "Remove or rename the duplicate column.")
                continue
            }
            index[h] = i
            if defined.contains(h) { continue }
            ext.append(i)
            if h.hasPrefix("metadata.") || schema.tolerated.contains(h) { continue }
            if let near = schema.nearMiss(of: h), !headerSet.contains(near) {
                add(.warning, .misspeltHeader, file: name, line: line, column: h,
                    "The header `\(h)` is not a OneRoster column of \(name); did you mean `\(near)`? Its values were kept as extension data, not used as \(near).",
                    fix: "Rename the header to `\(near)` (column names are case-sensitive).")
            } else {
                var message = "The column `\(h)` is not defined for \(name) in OneRoster \(version.rawValue); its values were kept as extension data."
                if file == .users && version == .v1_2 && (h == "role" || h == "orgSourcedIds") {
                    message += " In OneRoster 1.2 roles and orgs of users belong in roles.csv."
                }
                add(.warning, .unknownColumn, file: name, line: line, column: h, message,
                    fix: "If it is a deliberate extension, name it `metadata.\(h)`; otherwise remove it.")
            }
        }
        return ColumnMap(header: header, index: index, extIndices: ext)
    }

    func decode(_ file: OneRosterFile, _ ctx: inout RowContext) -> OneRosterRecord? {
        switch file {
        case .orgs: return ctx.decodeOrg().map(OneRosterRecord.org)
        case .academicSessions: return ctx.decodeAcademicSession().map(OneRosterRecord.academicSession)
        case .courses: return ctx.decodeCourse().map(OneRosterRecord.course)
        case .classes: return ctx.decodeClass().map(OneRosterRecord.rosterClass)
        case .users: return ctx.decodeUser().map(OneRosterRecord.user)
        case .roles: return ctx.decodeRole().map(OneRosterRecord.role)
        case .userProfiles: return ctx.decodeUserProfile().map(OneRosterRecord.userProfile)
        case .demographics: return ctx.decodeDemographics().map(OneRosterRecord.demographics)
        case .enrollments: return ctx.decodeEnrollment().map(OneRosterRecord.enrollment)
        default: return nil
        }
    }

    // MARK: root causes

    /// Root causes listed in a report at most (the costliest; the rest are counted). Rows with a fault of their own
    /// and nothing following from them are already listed one by one among the issues.
    static let maxRootCausesListed = 1_000

    /// The root cause a quarantined row is kept under (its index in `rootCauses`): the one of the row it refers to
    /// when that is its only fault, the file's when only a missing column cost it, else its own.
    func rootCause(of ctx: RowContext, missingColumns: [String]) -> Int {
        let name = ctx.fileName
        if ctx.ownErrors <= 0, let from = ctx.followsFrom, let root = quarantinedRoots[from.entity]?[from.sourcedId] {
            rootCauses[root].rows += 1
            rootCauses[root].followers[name, default: 0] += 1
            return root
        }
        if ctx.reasons == [.missingRequiredColumn] {
            if let root = fileRootCauses[name] {
                rootCauses[root].rows += 1
                return root
            }
            let columns = missingColumns.map { "`\($0)`" }.joined(separator: ", ")
            rootCauses.append(RootCause(
                id: name, file: name, line: nil, sourcedId: nil, codes: [.missingRequiredColumn],
                message: "The header of \(name) has no \(columns) column, which every row needs.",
                fix: "Add the column (exact, case-sensitive name) to the export."))
            fileRootCauses[name] = rootCauses.count - 1
            return rootCauses.count - 1
        }
        let own = ctx.issues.first { $0.severity == .error && $0.rootCause == nil } ?? ctx.issues.first { $0.severity == .error }
        rootCauses.append(RootCause(
            id: "\(name):\(ctx.line)", file: name, line: ctx.line, sourcedId: ctx.sourcedId.map { reportExcerpt($0) },
            codes: ctx.reasons, message: own?.message ?? "The row could not be read.", fix: own?.fix ?? "Export the row again."))
        return rootCauses.count - 1
    }

    /// The root cause of the quarantined record a `entity|sourcedId` marker names, when known.
    func followedRoot(_ marker: String) -> Int? {
        guard let bar = marker.firstIndex(of: "|"), let entity = OneRosterEntity(rawValue: String(marker[..<bar])) else { return nil }
        return quarantinedRoots[entity]?[String(marker[marker.index(after: bar)...])]
    }

    // MARK: references

    func resolves(_ ref: PendingRef) -> Bool {
        // Consecutive rows often name the same class, school or user: valid sourcedIds are never removed, so a value
        // found valid once stays valid.
        let ordinal = ref.entity.ordinal
        if lastResolved[ordinal] == ref.value { return true }
        if validIds[ordinal].contains(ref.value) {
            lastResolved[ordinal] = ref.value
            return true
        }
        if manifest.mode(of: ref.entity.file) != .bulk && held.contains(ref.value, entity: ref.entity) { return true }
        return false
    }

    func reportDangling(_ ref: PendingRef, _ ctx: inout RowContext) {
        let target = ref.entity.file
        let noun = ref.entity.noun
        let mode = manifest.mode(of: target)
        let code: IssueCode = ref.optional ? .danglingOptionalReference : .danglingReference
        if let qLine = quarantinedIds[ref.entity]?[ref.value] {
            if ref.soft {
                ctx.warn(.danglingOptionalReference, column: ref.column, value: ref.value,
                         "`\(ref.column.name)` refers to \(noun) `\(ref.value)`, which is on line \(qLine) of \(target.fileName) but was not loaded because of errors there; `\(ref.column.name)` is optional, so this row was loaded with the reference left unresolved.",
                         fix: "Fix line \(qLine) of \(target.fileName); the reference will then resolve.")
                return
            }
            ctx.error(code, column: ref.column, value: ref.value,
                      "`\(ref.column.name)` refers to \(noun) `\(ref.value)`, which is on line \(qLine) of \(target.fileName) but was not loaded because of errors there, so this row was not loaded either.",
                      fix: "Fix line \(qLine) of \(target.fileName); this row will then load too.")
            // Not a fault of this row: it follows from the referent's (see RootCause), resolved when it is quarantined.
            ctx.ownErrors -= 1
            ctx.issues[ctx.issues.count - 1].rootCause = ref.entity.rawValue + "|" + ref.value
            if ctx.followsFrom == nil { ctx.followsFrom = (ref.entity, ref.value) }
            return
        }
        let whereText: String
        switch mode {
        case .bulk:
            whereText = "there is no \(noun) `\(ref.value)` in \(target.fileName) (a bulk file is the complete list)"
        case .delta:
            whereText = "there is no \(noun) `\(ref.value)` in \(target.fileName) and none was received in earlier syncs"
        case .absent:
            whereText = "this bundle has no \(target.fileName) and no \(noun) `\(ref.value)` was received in earlier syncs"
        }
        let fix = "Correct \(ref.column.name) to the sourcedId of an existing \(noun), or include that \(noun) in \(target.fileName)."
        if ref.soft {
            ctx.warn(.danglingOptionalReference, column: ref.column, value: ref.value,
                     "`\(ref.column.name)` refers to \(ref.entity.article) \(noun) that does not exist: \(whereText). `\(ref.column.name)` is optional, so the row was loaded with the reference left unresolved.",
                     fix: fix)
            return
        }
        let strictNote = ref.optional ? " " + ReadingTolerance.strictNote(.danglingOptionalReference) : " The row was not loaded."
        ctx.error(code, column: ref.column, value: ref.value,
                  "`\(ref.column.name)` refers to \(ref.entity.article) \(noun) that does not exist: \(whereText).\(strictNote)",
                  fix: fix)
    }

    // MARK: output

    func emit(_ record: OneRosterRecord, line: Int) throws {
        switch record {
        case .user(let r):
            if version == .v1_2 { pendingUsers.append((r, line)) } else { try deliver(record) }
        case .role(let r):
            rolesByUser[r.userSourcedId, default: []].append(r)
            try deliver(record)
        default:
            try deliver(record)
        }
    }

    /// 1.2: attach roles.csv rows to their users, then hand the users out.
    func flushUsers() throws {
        guard !pendingUsers.isEmpty else { return }
        let rolesRead = manifest.mode(of: .roles) != .absent
        for (pending, line) in pendingUsers {
            var user = pending
            let roles = rolesByUser[user.sourcedId] ?? []
            user.roles = roles
            var orgs: [String] = []
            for r in roles where !orgs.contains(r.orgSourcedId) { orgs.append(r.orgSourcedId) }
            user.orgSourcedIds = orgs
            user.role = (roles.first { $0.roleType == .primary } ?? roles.first)?.role
            if roles.isEmpty && rolesRead && user.status == .active {
                add(.warning, .userWithoutRole, file: OneRosterFile.users.fileName, line: line, column: "sourcedId", value: user.sourcedId,
                    "User `\(user.sourcedId)` has no row in roles.csv, so it has no role at any org.",
                    fix: "Add a roles.csv row (roleType primary) for this user.")
            }
            try deliver(.user(user))
        }
        pendingUsers.removeAll()
        rolesByUser.removeAll()
    }

    func deliver(_ record: OneRosterRecord) throws {
        try visitor?(record)
        guard options.retainRecords else { return }
        switch record {
        case .org(let r): bundle.orgs.append(r)
        case .academicSession(let r): bundle.academicSessions.append(r)
        case .course(let r): bundle.courses.append(r)
        case .rosterClass(let r): bundle.classes.append(r)
        case .user(let r): bundle.users.append(r)
        case .role(let r): bundle.roles.append(r)
        case .userProfile(let r): bundle.userProfiles.append(r)
        case .demographics(let r): bundle.demographics.append(r)
        case .enrollment(let r): bundle.enrollments.append(r)
        }
    }
}

/// The sourcedIds of one file with the line each was first used on, to find duplicates.
///
/// Exports usually list rows in sourcedId order. While every id is greater than the one before, none can repeat an
/// earlier one, so ids are only appended to an array: no hashing, and less memory than a dictionary of millions of
/// ids. The first id out of order moves them into a dictionary, which answers from then on.
struct SourcedIdRegistry {
    private var ascendingIDs: [String] = []
    private var ascendingLines: [Int32] = []
    private var byID: [String: Int32]?
    private let expected: Int

    init(expected: Int) {
        self.expected = expected
        ascendingIDs.reserveCapacity(expected)
        ascendingLines.reserveCapacity(expected)
    }

    /// Records that `id` is used on `line`; if it was used before, returns the line of its first use instead (and
    /// keeps that one).
    mutating func firstLine(ifRepeated id: String, line: Int32) -> Int32? {
        if byID == nil {
            if let last = ascendingIDs.last, !(last < id) {
                var all: [String: Int32] = [:]
                all.reserveCapacity(max(expected, ascendingIDs.count + 1))
                for (index, known) in ascendingIDs.enumerated() { all[known] = ascendingLines[index] }
                ascendingIDs = []
                ascendingLines = []
                byID = all
            } else {
                ascendingIDs.append(id)
                ascendingLines.append(line)
                return nil
            }
        }
        if let first = byID!.updateValue(line, forKey: id) {
            byID![id] = first
            return first
        }
        return nil
    }
}

/// The data rows of a CSV file, split into fields on a thread of their own while the caller checks the rows before
/// them (handed over in chunks through a bounded queue, in order).
final class ParsedCSVRows: @unchecked Sendable {
    struct Row {
        var line: Int
        var quirks: CSVRecordQuirks
        var fields: [String]
        /// Fields that are not valid UTF-8 (decoded with replacement characters in `fields`).
        var badUTF8: [Int]
    }

    static let chunkSize = 1024
    static let maxChunks = 32

    private let condition = NSCondition()
    private var chunks: [[Row]] = []
    private var finished = false
    private var stopped = false
    private var failure: Error?
    /// Consumer side: the chunk being read.
    private var current: [Row] = []
    private var position = 0

    /// Starts parsing the rows after the reader's current record.
    init(_ reader: CSVRecordReader) {
        /// The reader moves to the parsing thread: the caller no longer touches it.
        struct Handoff: @unchecked Sendable { let reader: CSVRecordReader }
        let handoff = Handoff(reader: reader)
        let thread = Thread { [self] in parse(handoff.reader) }
        thread.name = "rosterflow.csv-parse"
        thread.start()
    }

    /// The next row, or nil at the end of the file.
    func next() throws -> Row? {
        if position < current.count {
            position += 1
            return current[position - 1]
        }
        condition.lock()
        defer { condition.unlock() }
        while chunks.isEmpty && !finished { condition.wait() }
        if chunks.isEmpty {
            if let failure { throw failure }
            return nil
        }
        current = chunks.removeFirst()
        condition.broadcast()
        position = 1
        return current[0]
    }

    /// Ends the parsing thread early (the caller stopped reading).
    func stop() {
        condition.lock()
        stopped = true
        condition.broadcast()
        condition.unlock()
    }

    private func parse(_ reader: CSVRecordReader) {
        var chunk: [Row] = []
        chunk.reserveCapacity(Self.chunkSize)
        func send() -> Bool {
            condition.lock()
            defer { condition.unlock() }
            while chunks.count >= Self.maxChunks && !stopped { condition.wait() }
            if stopped { return false }
            chunks.append(chunk)
            condition.broadcast()
            chunk = []
            chunk.reserveCapacity(Self.chunkSize)
            return true
        }
        var error: Error?
        do {
            while try reader.next() {
                var fields: [String] = []
                fields.reserveCapacity(reader.fieldCount)
                var badUTF8: [Int] = []
                for i in 0..<reader.fieldCount {
                    if let s = reader.fieldIfValid(i) {
                        fields.append(s)
                    } else {
                        badUTF8.append(i)
                        fields.append(reader.withField(i) { String(decoding: $0, as: UTF8.self) })
                    }
                }
                chunk.append(Row(line: reader.line, quirks: reader.quirks, fields: fields, badUTF8: badUTF8))
                if chunk.count >= Self.chunkSize, !send() { return }
            }
        } catch let caught {
            error = caught
        }
        if !chunk.isEmpty, !send() { return }
        condition.lock()
        failure = error
        finished = true
        condition.broadcast()
        condition.unlock()
    }
}
