import Foundation
import OneRoster

/// A district's OneRoster REST provider as a ``RosterSource``: pulls orgs, academic sessions, courses, classes, users,
/// enrollments (and demographics when configured) page by page, and hands them to the same reader, validation and
/// records as a CSV bundle. Each page is decoded straight into the rows a bundle file would have, handed to
/// ``OneRosterBundleReader`` in memory (no files), and each issue the reader finds is located again by record
/// reference: entity, sourcedId and the page the record came on.
///
/// JSON quirks real providers send are accepted: booleans as JSON booleans or strings, numbers for strings, GUIDRef
/// objects (`{href, sourcedId, type}`) or bare sourcedIds, `metadata` objects (kept as `metadata.*` extension columns),
/// 1.1 `role` + `orgs` and 1.2 `roles`. A record seen twice (pages shifting under a pull, or a delta overlap) is kept
/// once: the copy with the latest `dateLastModified`.
///
/// A pull that fails part-way throws: nothing of it is read, so a sync applies nothing (and records the run).
public struct RESTRosterSource: RosterSource {
    /// The provider.
    public var config: RESTSourceConfig
    /// For a delta pull: records changed after this instant are pulled (`filter=dateLastModified>'…'`); `nil` pulls
    /// everything (bulk).
    public var changedSince: Date?
    /// Receives a line per page pulled (for a terminal).
    public var progress: (@Sendable (String) -> Void)?
    /// Called after each page; what it throws stops the pull (e.g. a sync cancelled by Ctrl-C), nothing read.
    public var checkpoint: (@Sendable () throws -> Void)?
    /// Makes the client for a pull (the secret is read when the pull starts).
    let makeClient: @Sendable () throws -> OneRosterRESTClient
    /// Where the pull's statistics go (requests, seconds waiting on the provider).
    public let statistics = PullStatistics()
    /// Whether enrollments are handed to the reader page by page (see ``read(options:held:visitor:)``); switched off
    /// for good once a read had to start again.
    let streaming = StreamingSwitch()
    /// When set, a copy of the pulled records laid out as a CSV bundle is kept in this folder (for benchmarks that
    /// sync the same district from files, and for debugging a provider).
    public var keepBundleAt: URL?

    /// A source for `config`, its secret read from the environment (or file) when a pull starts.
    public init(config: RESTSourceConfig, changedSince: Date? = nil, transport: any HTTPTransport = CurlHTTPTransport(),
                retry: RetryPolicy = RetryPolicy(), environment: [String: String] = ProcessInfo.processInfo.environment,
                progress: (@Sendable (String) -> Void)? = nil) {
        self.config = config
        self.changedSince = changedSince
        self.progress = progress
        makeClient = {
            try config.validate()
            return OneRosterRESTClient(config: config, secret: try config.secret(environment: environment), transport: transport,
                                       retry: retry)
        }
    }

    /// The version, base URL and client id (never the secret).
    public var description: String { config.summary }

    /// `nil`: a provider cannot be fingerprinted without pulling it, so it is always read.
    public func fingerprint() throws -> String? { nil }

    /// A pull mostly waits on the provider: a first sync writes its adds meanwhile.
    public var readingWaits: Bool { true }

    /// The filter of a delta pull, e.g. `dateLastModified>'2026-11-30T02:00:00Z'`.
    public var deltaFilter: String? {
        changedSince.map { "dateLastModified>'\(Self.timestamp($0))'" }
    }

    static func timestamp(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.string(from: date)
    }

    /// Pulls every entity and reads and validates its records as the rows of a bundle (see the type's description).
    ///
    /// Pipelined: a thread of its own fetches the pages and decodes each straight into rows, and hands over each entity
    /// once its last page is in (records are kept once per sourcedId, so an entity is complete only then); meanwhile
    /// this thread checks the entities before it, in the reader's order. At most ``entitiesAhead`` pulled entities
    /// wait between them. Whatever fails on either side stops both, and the fetching thread is joined before this
    /// returns or throws; a pull that fails part-way throws, so a sync applies nothing of it.
    ///
    /// Enrollments, nine records in ten, are not held back until their last page (in a bulk pull): each page is
    /// handed over as it comes (at most ``pagesAhead`` waiting), so its records are checked and handed to `visitor`
    /// (a sync diffs them) while the next pages are fetched. A record that comes again is still kept once: an
    /// identical or older copy is dropped; a newer copy of a record already handed over (or a `metadata` key the
    /// earlier records lacked) means what was handed over is not the pull's final word. With a `visitor`, the read
    /// then throws ``RosterSourceReadAgain`` (the caller drops what it received and reads again); without one, it reads
    /// again itself. Either way the next read holds enrollments back until their last page, like every entity.
    public func read(options: OneRosterBundleReader.Options, held: any HeldSourcedIds,
                     visitor: ((OneRosterRecord) throws -> Void)?) throws -> OneRosterBundle {
        do {
            return try pull(options: options, held: held, visitor: visitor)
        } catch let again as RosterSourceReadAgain {
            streaming.turnOff()
            if visitor != nil { throw again }
            return try pull(options: options, held: held, visitor: nil)
        }
    }

    private func pull(options: OneRosterBundleReader.Options, held: any HeldSourcedIds,
                      visitor: ((OneRosterRecord) throws -> Void)?) throws -> OneRosterBundle {
        let client = try makeClient()
        defer { statistics.record(client) }
        let filter = deltaFilter
        let mode: FileMode = filter == nil ? .bulk : .delta
        let version = config.version
        let entities = RESTEntity.pulled(demographics: config.demographics)
        let progress = self.progress, checkpoint = self.checkpoint, statistics = self.statistics
        // Only a bulk pull streams: a delta pull that finds nothing of an entity leaves it absent, known at its end.
        let streamed: Set<RESTEntity> = filter == nil && keepBundleAt == nil && streaming.isOn ? [.enrollments] : []
        let pipeline = PagePipeline<PullEvent>(capacity: Self.pagesAhead)
        let entityCost = Self.pagesAhead / Self.entitiesAhead
        let producer = pipeline.startProducer(name: "rosterflow-rest-pull") { pipeline in
            let decoder = RecordDecoder(version: version)
            var layout = RESTBundleLayout(version: version)
            for entity in entities {
                if streamed.contains(entity) {
                    try Self.stream(entity, client: client, filter: filter, decoder: decoder, layout: layout, pipeline: pipeline,
                                    progress: progress, checkpoint: checkpoint)
                    continue
                }
                var pulled = 0
                do {
                    try client.pages(path: entity.path, key: entity.key, filter: filter, decode: {
                        (body: Data, number: Int) throws -> (RecordDecoder.Page, Int)? in
                        try decoder.decode(page: body, entity: entity, number: number).map { ($0, $0.count) }
                    }, page: { (number: Int, page: RecordDecoder.Page, total: Int?) throws in
                        layout.add(page, entity: entity)
                        pulled = number == 1 ? page.count : pulled + page.count
                        progress?("\(entity.key): page \(number), \(pulled) record\(pulled == 1 ? "" : "s")"
                                  + (total.map { " of \($0)" } ?? ""))
                        try checkpoint?()
                    })
                } catch let error as OneRosterRESTError where entity == .demographics && error.httpStatus == 403 {
                    layout.drop(entity)
                    try pipeline.put(.notPermitted(entity), cost: entityCost)
                    continue
                }
                // A bulk pull that found nothing is an empty bulk file, which the reader reports (and the safeguards
                // hold) rather than taking it as "every record deleted"; a delta pull that found nothing changed nothing.
                if filter == nil { layout.ensure(entity) }
                try pipeline.put(.pulled(entity, layout.take(entity), layout.takeShapeIssues()), cost: entityCost)
            }
            statistics.markPulled()
        }
        defer {
            pipeline.cancel()
            producer.wait()
        }
        var modes: [OneRosterFile: FileMode] = [:]
        for entity in entities {
            guard let file = OneRosterFile(rawValue: entity.rawValue) else { continue }
            modes[file] = mode
            if entity == .users && version == .v1_2 { modes[.roles] = mode }
        }
        let tables = PulledTables(pipeline: pipeline, keep: keepBundleAt != nil, streamed: streamed)
        var bundle = try OneRosterBundleReader(options: options).read(
            version: version == .v1_1 ? .v1_1 : .v1_2, modes: modes, sourceSystemName: "OneRoster REST", tables: tables,
            held: held, visitor: visitor)
        // The fetching thread has handed over every entity; whatever it threw after (nothing it should) fails the pull.
        while try pipeline.take() != nil {}
        bundle.report.issues = tables.locator.relocate(bundle.report.issues)
        var notPermitted: ValidationIssue?
        if tables.notPermitted {
            // Demographics need a permission (a scope) of their own: without it the roster is still whole.
            notPermitted = ValidationIssue(
                severity: .warning, code: .fileNotRead, file: RESTEntity.demographics.fileName,
                message: "The provider does not let client \(config.clientID) read demographics (HTTP 403); the rest of the "
                    + "roster was read and held demographics were left as they are.",
                fix: "Ask the district to grant this client the demographics permission (in OneRoster 1.2 the "
                    + "roster-demographics.readonly scope), or stop asking for them (configure the source without --demographics).")
        }
        for issue in tables.shapeIssues + (notPermitted.map { [$0] } ?? []) { bundle.report.add(issue) }
        if let keepBundleAt { try tables.write(to: keepBundleAt, version: version, mode: mode) }
        return bundle
    }

    /// Pulled entities waiting to be checked, at most (the fetching thread goes on with the next meanwhile).
    static let entitiesAhead = 2
    /// Pages of a streamed entity waiting to be checked, at most (an entity waiting counts as half of them).
    static let pagesAhead = 64

    /// Fetching thread: pulls `entity` page by page, handing each page's rows over as it comes (see
    /// ``read(options:held:visitor:)``), then the end of the entity.
    private static func stream(_ entity: RESTEntity, client: OneRosterRESTClient, filter: String?, decoder: RecordDecoder,
                               layout: RESTBundleLayout, pipeline: PagePipeline<PullEvent>,
                               progress: (@Sendable (String) -> Void)?, checkpoint: (@Sendable () throws -> Void)?) throws {
        let columns = layout.columns(entity).map(\.0)
        // sourcedId → dateLastModified of every record handed over, to keep each record once.
        var handed: [String: String] = [:]
        var header: [String]?
        var metadataKeys: [String] = []
        var pulled = 0
        try client.pages(path: entity.path, key: entity.key, filter: filter, decode: {
            (body: Data, number: Int) throws -> (RecordDecoder.Page, Int)? in
            try decoder.decode(page: body, entity: entity, number: number).map { ($0, $0.count) }
        }, page: { (number: Int, page: RecordDecoder.Page, total: Int?) throws in
            if header == nil {
                metadataKeys = Set(page.rows.flatMap(\.metadata.keys)).sorted()
                header = columns + metadataKeys
                if let total { handed.reserveCapacity(total) }
            }
            var rows: [[String]] = []
            var origins: [(sourcedId: String, page: Int)] = []
            rows.reserveCapacity(page.rows.count)
            origins.reserveCapacity(page.rows.count)
            for row in page.rows {
                let id = row.sourcedId
                if !id.isEmpty {
                    if let earlier = handed[id] {
                        // Seen already: an identical or older copy is the same record again; a newer one supersedes
                        // what was handed over.
                        guard row.dateLastModified > earlier else { continue }
                        throw RosterSourceReadAgain(
                            reason: "\(entity.key) record `\(id)` came again on page \(number) with a later dateLastModified")
                    }
                    handed[id] = row.dateLastModified
                }
                for key in row.metadata.keys where !metadataKeys.contains(key) {
                    throw RosterSourceReadAgain(
                        reason: "\(entity.key) record `\(id)` on page \(number) has `metadata.\(key)`, which the records before it lacked")
                }
                rows.append(metadataKeys.isEmpty ? row.fields : row.fields + metadataKeys.map { row.metadata[$0] ?? "" })
                origins.append((id, row.page))
            }
            try pipeline.put(.rows(entity, header: header!, expected: total ?? 0, rows: rows, origins: origins,
                                   issues: page.issues))
            pulled = number == 1 ? page.count : pulled + page.count
            progress?("\(entity.key): page \(number), \(pulled) record\(pulled == 1 ? "" : "s")" + (total.map { " of \($0)" } ?? ""))
            try checkpoint?()
        })
        try pipeline.put(.ended(entity, header: header ?? columns))
    }
}

/// Whether a source still hands enrollments over page by page (a reference, so copies of a source share it).
final class StreamingSwitch: @unchecked Sendable {
    private let lock = NSLock()
    private var on = true

    var isOn: Bool { lock.lock(); defer { lock.unlock() }; return on }

    func turnOff() {
        lock.lock()
        on = false
        lock.unlock()
    }
}

/// What the fetching thread of a pull hands over, in order.
enum PullEvent: Sendable {
    /// An entity's records, all pages in (`nil`: a delta pull found none), and the issues about their JSON.
    case pulled(RESTEntity, RESTBundleLayout.PulledEntity?, [ValidationIssue])
    /// The provider does not let this client read the entity (demographics only).
    case notPermitted(RESTEntity)
    /// One page of a streamed entity: its rows under `header` (the same for every page), where each came from, and the
    /// issues about its JSON; `expected` is the provider's total count (0 when it gave none).
    case rows(RESTEntity, header: [String], expected: Int, rows: [[String]], origins: [(sourcedId: String, page: Int)],
              issues: [ValidationIssue])
    /// A streamed entity's last page was handed over (`header`: its columns, for an entity with no records).
    case ended(RESTEntity, header: [String])
}

/// The reader's side of a pull: hands each file's rows to the reader once the fetching thread has pulled its entity
/// (a streamed entity's rows page by page as they come), and keeps where each row came from.
final class PulledTables: RosterRowTables {
    private let pipeline: PagePipeline<PullEvent>
    private var waiting: [RESTEntity: RESTBundleLayout.PulledEntity] = [:]
    private var settled: Set<RESTEntity> = []
    private let keep: Bool
    /// Entities handed over page by page.
    private let streamed: Set<RESTEntity>
    private var kept: [RESTBundleLayout.PulledEntity] = []
    private(set) var locator = RecordLocator()
    private(set) var shapeIssues: [ValidationIssue] = []
    private(set) var notPermitted = false

    init(pipeline: PagePipeline<PullEvent>, keep: Bool, streamed: Set<RESTEntity>) {
        self.pipeline = pipeline
        self.keep = keep
        self.streamed = streamed
    }

    /// What ``next(of:)`` found.
    private enum Next {
        case page(header: [String], expected: Int, rows: [[String]])
        case end(header: [String])
        case done
    }

    /// Takes events until one about `entity`: whole entities are put aside until asked for; a page of `entity`, or
    /// its end, is answered; `done` when the fetching thread finished (its error, if any, is thrown).
    private func next(of entity: RESTEntity) throws -> Next {
        while let event = try pipeline.take() {
            switch event {
            case .pulled(let got, let pulled, let issues):
                settled.insert(got)
                shapeIssues += issues
                if let pulled {
                    locator.remember(pulled)
                    waiting[got] = pulled
                    if keep { kept.append(pulled) }
                }
                if got == entity { return .done }
            case .notPermitted(let got):
                settled.insert(got)
                notPermitted = true
                if got == entity { return .done }
            case .rows(let got, let header, let expected, let rows, let origins, let issues):
                shapeIssues += issues
                locator.append(origins, file: got.fileName)
                if got == entity { return .page(header: header, expected: expected, rows: rows) }
            case .ended(let got, let header):
                settled.insert(got)
                if got == entity { return .end(header: header) }
            }
        }
        return .done
    }

    func stream(for file: OneRosterFile) throws -> RosterRowStream? {
        guard let entity = RESTEntity(rawValue: file.rawValue), streamed.contains(entity) else { return nil }
        switch try next(of: entity) {
        case .page(let header, let expected, let rows):
            var first: [[String]]? = rows
            var ended = false
            return RosterRowStream(header: header, expectedRows: expected) { [self] in
                if let rows = first {
                    first = nil
                    return rows
                }
                guard !ended else { return nil }
                if case .page(_, _, let rows) = try next(of: entity) { return rows }
                ended = true
                return nil
            }
        case .end(let header):
            return RosterRowStream(header: header) { nil }
        case .done:
            return nil
        }
    }

    func table(for file: OneRosterFile) throws -> RosterRowTable? {
        guard let entity = file == .roles ? RESTEntity.users : RESTEntity(rawValue: file.rawValue) else { return nil }
        while !settled.contains(entity) {
            if case .done = try next(of: entity), !settled.contains(entity) { break }
        }
        if file == .roles { return waiting.removeValue(forKey: entity)?.roles }
        guard let pulled = waiting[entity] else { return nil }
        // A 1.2 user's roles are asked for after the users: keep them until then, and nothing else.
        if pulled.roles != nil {
            waiting[entity]?.table = RosterRowTable(header: [], rows: [])
        } else {
            waiting[entity] = nil
        }
        return pulled.table
    }

    /// Writes what was pulled as a CSV bundle (manifest.csv and a file per entity) into the new folder `folder`.
    func write(to folder: URL, version: RESTSourceConfig.Version, mode: FileMode) throws {
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o700])
        var pulled = Set(kept.map(\.entity.rawValue))
        if kept.contains(where: { $0.roles != nil }) { pulled.insert("roles") }
        try Data(RESTBundleLayout.manifest(version: version, pulled: pulled, mode: mode).utf8)
            .write(to: folder.appendingPathComponent("manifest.csv"))
        for entity in kept {
            try RESTBundleLayout.write(entity.table, name: entity.entity.fileName, to: folder)
            if let roles = entity.roles { try RESTBundleLayout.write(roles, name: "roles.csv", to: folder) }
        }
    }
}

/// Requests and time of the last pull (a reference type, so a source passed by value still reports them).
public final class PullStatistics: @unchecked Sendable {
    private let lock = NSLock()
    private var _requests = 0
    private var _waiting: Double = 0
    private var _pulledAt: Date?

    func markPulled() {
        lock.lock()
        _pulledAt = Date()
        lock.unlock()
    }

    /// When the last pull finished pulling (before its records were read and validated).
    public var pulledAt: Date? { lock.lock(); defer { lock.unlock() }; return _pulledAt }

    func record(_ client: OneRosterRESTClient) {
        lock.lock()
        _requests += client.requests
        _waiting += client.waitingSeconds
        lock.unlock()
    }

    /// HTTP requests sent (retries included).
    public var requests: Int { lock.lock(); defer { lock.unlock() }; return _requests }
    /// Seconds spent waiting on the provider (requests, token fetches and backoff).
    public var waitingSeconds: Double { lock.lock(); defer { lock.unlock() }; return _waiting }
}
