import Foundation

/// Where a sync reads a district's roster from: a CSV bundle today (``CSVBundleSource``), a OneRoster REST endpoint
/// later. A source hands its valid records to the visitor as they are validated (the sync diffs them against the held
/// roster as they come) and returns the manifest and the ``ValidationReport``; the records themselves need not be
/// kept.
///
/// Issues a source reports carry an ``IssueLocation``: a file position for a file, a record reference (entity,
/// sourcedId, page) for a source that has no files.
public protocol RosterSource: Sendable, CustomStringConvertible {
    /// What an operator recognises the source by, e.g. the bundle's path; stored with each sync run and shown by
    /// `rosterflow sync list`.
    var description: String { get }

    /// The SHA-256 (lowercase hex) of exactly what ``read(options:held:visitor:)`` would read, so a sync can tell an
    /// unchanged source without reading it again; `nil` when it cannot be computed cheaply (the source is then always
    /// read). Throws when the source cannot be reached at all.
    func fingerprint() throws -> String?

    /// Reads and validates the roster, handing each valid record to `visitor` as soon as it is validated (orgs,
    /// academic sessions, courses, classes, users, demographics, enrollments), and returns the manifest and report.
    /// - Parameters:
    ///   - options: Reading options (caps, issue limits, whether valid records are also kept in the result).
    ///   - held: Answers references the source does not satisfy (see ``HeldSourcedIds``).
    ///   - visitor: Receives each valid record.
    /// - Throws: When nothing can be read at all (problems with the content go in the report instead);
    ///   ``RosterSourceReadAgain`` when records already handed to `visitor` turned out to be superseded (what the
    ///   visitor received must then be dropped and the source read again).
    func read(options: OneRosterBundleReader.Options, held: any HeldSourcedIds,
              visitor: ((OneRosterRecord) throws -> Void)?) throws -> OneRosterBundle

    /// Whether reading this source mostly waits (on a provider, over the network) rather than keeping the cores busy:
    /// then a sync writes a first roster's adds while it reads (see `RosterAddStage` in StorageCore), which costs no
    /// wall time there. Reading a file keeps the cores busy, so it does not (false unless a source says otherwise).
    var readingWaits: Bool { get }
}

extension RosterSource {
    /// Sources read from disk keep the cores busy.
    public var readingWaits: Bool { false }
}

/// Thrown by a ``RosterSource`` that hands records to the visitor before it has received all of them (a REST pull
/// checks each page of enrollments while the next is fetched) when a record it already handed over turned out to be
/// superseded: a later page carried a newer copy of it (pages shifting under the pull), or a column the earlier rows
/// did not have. What the visitor received must be dropped and the source read again; the source then reads that
/// way no more (it hands each collection over only once it is complete), so a second read cannot throw this.
public struct RosterSourceReadAgain: Error, CustomStringConvertible {
    /// Why, e.g. "enrollment `e-1` came again on page 7 with a later dateLastModified".
    public var reason: String

    /// An error saying why the source must be read again.
    public init(reason: String) { self.reason = reason }

    /// The reason.
    public var description: String { "the source must be read again: \(reason)" }
}

/// A OneRoster CSV bundle on disk, a folder or a .zip file: the first ``RosterSource``.
public struct CSVBundleSource: RosterSource {
    /// The folder or .zip file, as given.
    public var path: String

    /// A bundle at `path` (a folder with manifest.csv and the CSV files, or its .zip).
    public init(path: String) { self.path = path }

    /// The path, as given.
    public var description: String { path }

    /// The SHA-256 of the bundle's bytes: a .zip file as it is, a folder as the sorted list of its regular files
    /// (relative path, size and content of each). Throws ``OneRosterBundleError`` when there is nothing to read there.
    public func fingerprint() throws -> String? { try BundleFingerprint.sha256(atPath: path) }

    /// Reads the bundle with ``OneRosterBundleReader``.
    public func read(options: OneRosterBundleReader.Options, held: any HeldSourcedIds,
                     visitor: ((OneRosterRecord) throws -> Void)?) throws -> OneRosterBundle {
        try OneRosterBundleReader(options: options).read(at: URL(fileURLWithPath: path), held: held, visitor: visitor)
    }
}
