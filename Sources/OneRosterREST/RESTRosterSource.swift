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
    public func read(options: OneRosterBundleReader.Options, held: any HeldSourcedIds,
                     visitor: ((OneRosterRecord) throws -> Void)?) throws -> OneRosterBundle {
        let client = try makeClient()
        defer { statistics.record(client) }
        let filter = deltaFilter
        let mode: FileMode = filter == nil ? .bulk : .delta
        let version = config.version
        let entities = RESTEntity.pulled(demographics: config.demographics)
        let progress = self.progress, checkpoint = self.checkpoint, statistics = self.statistics
        let pipeline = PagePipeline<PullEvent>(capacity: Self.entitiesAhead)
        let producer = pipeline.startProducer(name: "rosterflow-rest-pull") { pipeline in
            let decoder = RecordDecoder(version: version)
            var layout = RESTBundleLayout(version: version)
            for entity in entities {
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
                    try pipeline.put(.notPermitted(entity))
                    continue
                }
                // A bulk pull that found nothing is an empty bulk file, which the reader reports (and the safeguards
                // hold) rather than taking it as "every record deleted"; a delta pull that found nothing changed nothing.
                if filter == nil { layout.ensure(entity) }
                try pipeline.put(.pulled(entity, layout.take(entity), layout.takeShapeIssues()))
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
        let tables = PulledTables(pipeline: pipeline, keep: keepBundleAt != nil)
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
}

/// What the fetching thread of a pull hands over, in order.
enum PullEvent: Sendable {
    /// An entity's records, all pages in (`nil`: a delta pull found none), and the issues about their JSON.
    case pulled(RESTEntity, RESTBundleLayout.PulledEntity?, [ValidationIssue])
    /// The provider does not let this client read the entity (demographics only).
    case notPermitted(RESTEntity)
}

/// The reader's side of a pull: hands each file's rows to the reader once the fetching thread has pulled its entity,
/// and keeps where each row came from.
final class PulledTables: RosterRowTables {
    private let pipeline: PagePipeline<PullEvent>
    private var waiting: [RESTEntity: RESTBundleLayout.PulledEntity] = [:]
    private var settled: Set<RESTEntity> = []
    private let keep: Bool
    private var kept: [RESTBundleLayout.PulledEntity] = []
    private(set) var locator = RecordLocator()
    private(set) var shapeIssues: [ValidationIssue] = []
    private(set) var notPermitted = false

    init(pipeline: PagePipeline<PullEvent>, keep: Bool) {
        self.pipeline = pipeline
        self.keep = keep
    }

    func table(for file: OneRosterFile) throws -> RosterRowTable? {
        guard let entity = file == .roles ? RESTEntity.users : RESTEntity(rawValue: file.rawValue) else { return nil }
        while !settled.contains(entity), let event = try pipeline.take() {
            switch event {
            case .pulled(let got, let pulled, let issues):
                settled.insert(got)
                shapeIssues += issues
                if let pulled {
                    locator.remember(pulled)
                    waiting[got] = pulled
                    if keep { kept.append(pulled) }
                }
            case .notPermitted(let got):
                settled.insert(got)
                notPermitted = true
            }
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
