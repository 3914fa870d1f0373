import CodedErrors
import Foundation

/// The parsed manifest.csv of a bundle.
public struct Manifest: Sendable, Equatable, Codable {
    /// Whether the bundle had a manifest.csv.
    public var isPresent: Bool
    /// `manifest.version` as written.
    public var manifestVersion: String?
    /// `oneroster.version` as written (may be unsupported or missing).
    public var declaredVersion: String?
    /// `source.systemName`.
    public var sourceSystemName: String?
    /// `source.systemCode`.
    public var sourceSystemCode: String?
    /// Every `propertyName` → `value` row as written.
    public var properties: [String: String]
    /// Effective mode per file name (e.g. `"orgs"` → `.bulk`), for every file the version defines.
    /// Files the manifest does not list are `.absent`.
    public var fileModes: [String: FileMode]

    /// Creates an empty manifest.
    public init(isPresent: Bool = false, manifestVersion: String? = nil, declaredVersion: String? = nil,
                sourceSystemName: String? = nil, sourceSystemCode: String? = nil, properties: [String: String] = [:],
                fileModes: [String: FileMode] = [:]) {
        self.isPresent = isPresent
        self.manifestVersion = manifestVersion
        self.declaredVersion = declaredVersion
        self.sourceSystemName = sourceSystemName
        self.sourceSystemCode = sourceSystemCode
        self.properties = properties
        self.fileModes = fileModes
    }

    /// The effective mode of a file (`.absent` if not listed).
    public func mode(of file: OneRosterFile) -> FileMode { fileModes[file.rawValue] ?? .absent }
}

/// Answers whether a sourcedId is already held (e.g. in the local database from earlier syncs).
///
/// The bundle reader asks it about references that the bundle itself does not satisfy. It is not asked about
/// entities whose file is `bulk` in the bundle: a bulk file is the complete set, so a held record missing from it
/// is about to be deleted and cannot be referred to.
public protocol HeldSourcedIds {
    /// Whether a record of `entity` with `sourcedId` is already held.
    func contains(_ sourcedId: String, entity: OneRosterEntity) -> Bool
}

/// Nothing is held: every reference must be satisfied by the bundle.
public struct NoHeldSourcedIds: HeldSourcedIds, Sendable {
    /// Creates the empty lookup.
    public init() {}
    /// Always `false`.
    public func contains(_ sourcedId: String, entity: OneRosterEntity) -> Bool { false }
}

/// A held-sourcedId lookup backed by a closure (e.g. a database query).
public struct HeldSourcedIdsClosure: HeldSourcedIds {
    let body: (String, OneRosterEntity) -> Bool
    /// Wraps `body(sourcedId, entity)`.
    public init(_ body: @escaping (String, OneRosterEntity) -> Bool) { self.body = body }
    /// Calls the closure.
    public func contains(_ sourcedId: String, entity: OneRosterEntity) -> Bool { body(sourcedId, entity) }
}

/// A held-sourcedId lookup backed by in-memory sets.
public struct HeldSourcedIdSets: HeldSourcedIds, Sendable {
    /// Held sourcedIds per entity.
    public var ids: [OneRosterEntity: Set<String>]
    /// Creates the lookup.
    public init(_ ids: [OneRosterEntity: Set<String>]) { self.ids = ids }
    /// Whether the set for `entity` contains `sourcedId`.
    public func contains(_ sourcedId: String, entity: OneRosterEntity) -> Bool { ids[entity]?.contains(sourcedId) ?? false }
}

/// Errors that stop a bundle from being read at all. Problems with the content are reported in the
/// ``ValidationReport`` instead.
public struct OneRosterBundleError: CodedError, Equatable {
    /// Stable codes.
    public enum Code: String, Sendable, Codable {
        /// The path does not exist.
        case notFound = "bundle-not-found"
        /// The path is neither a folder nor a zip file.
        case notABundle = "not-a-bundle"
        /// The zip could not be opened or extracted, or holds the same file twice.
        case badZip = "bad-zip"
        /// A zip entry or the whole zip is bigger, or more compressed, than the input limits allow.
        case zipTooLarge = "zip-too-large"
        /// A bundle file is a link, FIFO, device or folder, not a regular file.
        case notRegularFile = "not-a-regular-file"
        /// A bundle file cannot be read as CSV at all (its encoding, an unparseable header).
        case unreadableFile = "unreadable-file"
    }

    public var code: Code
    /// The bundle's path.
    public var path: String
    /// Why the bundle could not be read (for every code but ``Code/notFound`` and ``Code/notABundle``).
    public var reason: String?
    public var site: ThrowSite

    /// An error about the bundle at `path`; the caller's file and line are its ``site``.
    public init(_ code: Code, path: String, reason: String? = nil, fileID: String = #fileID, fileLine: Int = #line) {
        self.code = code
        self.path = path
        self.reason = reason
        self.site = ThrowSite(fileID: fileID, line: fileLine)
    }

    /// The path does not exist.
    public static func notFound(_ path: String, fileID: String = #fileID, fileLine: Int = #line) -> Self {
        Self(.notFound, path: path, fileID: fileID, fileLine: fileLine)
    }

    /// The path is neither a folder nor a zip file.
    public static func notABundle(_ path: String, fileID: String = #fileID, fileLine: Int = #line) -> Self {
        Self(.notABundle, path: path, fileID: fileID, fileLine: fileLine)
    }

    /// The zip at `path` could not be opened or extracted, or holds the same file twice, for `reason`.
    public static func badZip(_ path: String, _ reason: String, fileID: String = #fileID, fileLine: Int = #line) -> Self {
        Self(.badZip, path: path, reason: reason, fileID: fileID, fileLine: fileLine)
    }

    /// A zip entry, or the whole zip, is bigger than ``InputLimits`` allow (declared or while inflating), or compressed
    /// more than the ratio cap.
    public static func zipTooLarge(_ path: String, _ reason: String, fileID: String = #fileID, fileLine: Int = #line) -> Self {
        Self(.zipTooLarge, path: path, reason: reason, fileID: fileID, fileLine: fileLine)
    }

    /// A bundle file is a symbolic link, a FIFO, a device or anything but a regular file: (bundle, file, what it is).
    public static func notRegularFile(
        _ bundle: String, _ file: String, _ what: String, fileID: String = #fileID, fileLine: Int = #line
    ) -> Self {
        Self(.notRegularFile, path: bundle, reason: "\(file) in \(bundle) is \(what), not a regular file, so it was not read; "
            + "bundle files must be plain files (copy the file itself into the bundle folder instead of linking to it)",
             fileID: fileID, fileLine: fileLine)
    }

    /// A bundle file cannot be read as a CSV at all (wrong encoding, a header that does not parse): (file, what is
    /// wrong, how to fix it). The whole run is rejected, never read as "0 rows".
    public static func unreadableFile(
        _ file: String, _ what: String, _ fix: String, fileID: String = #fileID, fileLine: Int = #line
    ) -> Self {
        Self(.unreadableFile, path: file, reason: "\(file) cannot be read: \(what) Fix: \(fix)", fileID: fileID, fileLine: fileLine)
    }

    /// A plain-words description.
    public var message: String {
        switch code {
        case .notFound: "\(path) does not exist"
        case .notABundle: "\(path) is neither a folder nor a .zip file"
        case .badZip: "cannot read zip \(path): \(reason ?? "unknown reason")"
        case .zipTooLarge: "refused zip \(path): \(reason ?? "too large")"
        case .notRegularFile, .unreadableFile: reason ?? path
        }
    }
}

/// Everything read from a bundle: manifest, modes, valid records, quarantined rows and the report.
public struct OneRosterBundle: Sendable {
    /// The manifest (with effective file modes).
    public var manifest: Manifest
    /// The version the bundle was read as.
    public var version: OneRosterVersion
    /// Valid orgs.
    public var orgs: [Org] = []
    /// Valid academic sessions.
    public var academicSessions: [AcademicSession] = []
    /// Valid courses.
    public var courses: [Course] = []
    /// Valid classes.
    public var classes: [RosterClass] = []
    /// Valid users, with their roles attached.
    public var users: [User] = []
    /// Valid 1.2 roles.csv rows (empty for 1.1; see ``User/roles`` for derived roles).
    public var roles: [RoleAssignment] = []
    /// Valid 1.2 user profiles.
    public var userProfiles: [UserProfile] = []
    /// Valid demographics.
    public var demographics: [Demographics] = []
    /// Valid enrollments.
    public var enrollments: [Enrollment] = []
    /// Rows that were not loaded because of errors.
    public var quarantined: [QuarantinedRow] = []
    /// The validation report.
    public var report: ValidationReport

    /// The mode of a file from the manifest.
    public func mode(of file: OneRosterFile) -> FileMode { manifest.mode(of: file) }

    /// Creates a bundle value.
    public init(manifest: Manifest, version: OneRosterVersion, report: ValidationReport) {
        self.manifest = manifest
        self.version = version
        self.report = report
    }
}

/// Reads a OneRoster CSV bundle (a folder or a .zip) into typed, validated records.
///
/// ```swift
/// let bundle = try OneRosterBundleReader().read(at: URL(fileURLWithPath: "district.zip"))
/// print(bundle.report.rendered())
/// ```
///
/// For very large bundles use ``read(at:held:visitor:)`` with ``Options/retainRecords`` set to `false`:
/// records are handed to the visitor as they are validated and not kept in memory.
public struct OneRosterBundleReader: Sendable {
    /// Reading options.
    public struct Options: Sendable {
        /// Keep valid records in the returned ``OneRosterBundle``. Default `true`.
        public var retainRecords: Bool
        /// At most this many issues of one code are listed per file; the rest are only counted. Default 10,000.
        public var maxIssuesPerFileAndCode: Int
        /// Warn about grades that are not CEDS codes (e.g. `9` instead of `09`). Default `true`.
        public var checkGradeCodes: Bool
        /// Size caps for zips, fields, rows and headers. Default: the built-in defaults with any
        /// `ROSTERFLOW_MAX_*` environment variable applied (``InputLimits/fromEnvironment(_:)``).
        public var limits: InputLimits
        /// Where a zipped bundle is extracted (into a private 0700 folder removed afterwards). Default: the system's
        /// temporary folder (`$TMPDIR`, else `/tmp`).
        public var temporaryDirectory: URL?
        /// Which tolerances apply (``IssueCode/tolerances``); by default all of them, none strict.
        public var tolerance: ReadingTolerance
        /// Told the manifest once it is read, before the first record reaches the visitor (a diff beside the reader
        /// learns which files are bulk, whose omissions are deletes). Default nil.
        public var manifestRead: (@Sendable (Manifest) -> Void)?

        /// Creates options.
        public init(retainRecords: Bool = true, maxIssuesPerFileAndCode: Int = 10_000, checkGradeCodes: Bool = true,
                    limits: InputLimits = .fromEnvironment(), temporaryDirectory: URL? = nil,
                    tolerance: ReadingTolerance = ReadingTolerance()) {
            self.retainRecords = retainRecords
            self.maxIssuesPerFileAndCode = maxIssuesPerFileAndCode
            self.checkGradeCodes = checkGradeCodes
            self.limits = limits
            self.temporaryDirectory = temporaryDirectory
            self.tolerance = tolerance
        }
    }

    /// The options.
    public var options: Options

    /// Removes the temporary folders of zips this process is reading right now. For a process about to end on a
    /// signal (the folders of a process killed outright are swept by the next extraction instead).
    public static func removeTemporaryFolders() {
        ZipBundle.removeLiveFolders()
    }

    /// Creates a reader.
    public init(options: Options = Options()) { self.options = options }

    /// Reads and validates a bundle, keeping valid records in memory.
    /// - Parameters:
    ///   - url: A folder or a .zip file.
    ///   - held: Answers references the bundle does not satisfy (see ``HeldSourcedIds``).
    public func read(at url: URL, held: any HeldSourcedIds = NoHeldSourcedIds()) throws -> OneRosterBundle {
        try read(at: url, held: held, visitor: nil)
    }

    /// Reads and validates a bundle, handing each valid record to `visitor` as soon as it is validated.
    ///
    /// Order: orgs, academic sessions, courses, classes, (1.2: user profiles, roles,) users, demographics,
    /// enrollments. Records are also kept in the result if ``Options/retainRecords`` is `true`.
    public func read(at url: URL, held: any HeldSourcedIds = NoHeldSourcedIds(),
                     visitor: ((OneRosterRecord) throws -> Void)?) throws -> OneRosterBundle {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDir) else {
            throw OneRosterBundleError.notFound(url.path)
        }
        if isDir.boolValue {
            let session = BundleReadSession(options: options, held: held, visitor: visitor)
            return try session.read(folder: url, subfolderNote: nil)
        }
        // The bundle path itself may be a link (the operator's choice), but to a regular file: opening a FIFO would wait
        // for a writer forever.
        var st = stat()
        guard stat(url.path, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG, ZipBundle.looksLikeZip(url) else {
            throw OneRosterBundleError.notABundle(url.path)
        }
        let extracted = try ZipBundle.extract(
            url, limits: options.limits, temporaryDirectory: options.temporaryDirectory ?? FileManager.default.temporaryDirectory)
        defer { ZipBundle.remove(extracted.tempRoot) }
        let session = BundleReadSession(options: options, held: held, visitor: visitor)
        return try session.read(folder: extracted.folder, subfolderNote: extracted.subfolder)
    }
}
