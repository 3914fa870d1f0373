import Foundation
import OneRoster

/// A district's OneRoster REST provider as a ``RosterSource``: pulls orgs, academic sessions, courses, classes, users,
/// enrollments (and demographics when configured) page by page, and hands them to the same reader, validation and
/// records as a CSV bundle. The pulled records are laid out as the CSV files of a bundle in a private temporary folder
/// (removed afterwards), read with ``OneRosterBundleReader``, and each issue the reader finds is located again by
/// record reference: entity, sourcedId and the page the record came on.
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

    /// Pulls every entity, then reads and validates them as one bundle (see the type's description).
    public func read(options: OneRosterBundleReader.Options, held: any HeldSourcedIds,
                     visitor: ((OneRosterRecord) throws -> Void)?) throws -> OneRosterBundle {
        let client = try makeClient()
        defer { statistics.record(client) }
        let temporary = options.temporaryDirectory ?? FileManager.default.temporaryDirectory
        let folder = temporary.appendingPathComponent("rosterflow-rest-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o700])
        defer { try? FileManager.default.removeItem(at: folder) }
        var layout = RESTBundleLayout(version: config.version)
        let filter = deltaFilter
        var notPermitted: ValidationIssue?
        // Pipelined: a thread of its own fetches (and parses) the pages, in order, while this one lays out the page
        // before; at most `pagesAhead` pages wait between them. Whatever fails on either side stops both, and the
        // producer is joined before this returns or throws, so nothing of a failed pull is read.
        let pipeline = PagePipeline<PullEvent>(capacity: Self.pagesAhead)
        let entities = RESTEntity.pulled(demographics: config.demographics)
        let producer = pipeline.startProducer(name: "rosterflow-rest-pull") { pipeline in
            for entity in entities {
                do {
                    try client.pages(path: entity.path, key: entity.key, filter: filter) { page in
                        try pipeline.put(.page(entity, page))
                    }
                    try pipeline.put(.ended(entity))
                } catch let error as OneRosterRESTError where entity == .demographics && error.httpStatus == 403 {
                    try pipeline.put(.notPermitted(entity))
                }
            }
        }
        defer {
            pipeline.cancel()
            producer.wait()
        }
        var pulled = 0
        while let event = try pipeline.take() {
            switch event {
            case .page(let entity, let page):
                for record in page.records { layout.add(record, entity: entity, page: page.number) }
                pulled = page.number == 1 ? page.records.count : pulled + page.records.count
                progress?("\(entity.key): page \(page.number), \(pulled) record\(pulled == 1 ? "" : "s")"
                          + (page.totalCount.map { " of \($0)" } ?? ""))
                try checkpoint?()
            case .ended(let entity):
                // A bulk pull that found nothing is an empty bulk file, which the reader reports (and the safeguards
                // hold) rather than taking it as "every record deleted"; a delta pull that found nothing changed nothing.
                if filter == nil { layout.ensure(entity) }
            case .notPermitted:
                // Demographics need a permission (a scope) of their own: without it the roster is still whole.
                layout.drop(.demographics)
                notPermitted = ValidationIssue(
                    severity: .warning, code: .fileNotRead, file: RESTEntity.demographics.fileName,
                    message: "The provider does not let client \(config.clientID) read demographics (HTTP 403); the rest of the "
                        + "roster was read and held demographics were left as they are.",
                    fix: "Ask the district to grant this client the demographics permission (in OneRoster 1.2 the "
                        + "roster-demographics.readonly scope), or stop asking for them (configure the source without --demographics).")
            }
        }
        try layout.write(to: folder, mode: filter == nil ? .bulk : .delta)
        statistics.markPulled()
        if let keepBundleAt { try FileManager.default.copyItem(at: folder, to: keepBundleAt) }
        var bundle = try OneRosterBundleReader(options: options).read(at: folder, held: held, visitor: visitor)
        bundle.report.issues = layout.relocate(bundle.report.issues)
        for issue in layout.shapeIssues + (notPermitted.map { [$0] } ?? []) { bundle.report.add(issue) }
        return bundle
    }

    /// Pages fetched ahead of the one being laid out, at most.
    static let pagesAhead = 2
}

/// What the fetching thread of a pull hands over, in order.
enum PullEvent: Sendable {
    /// A page of an entity.
    case page(RESTEntity, OneRosterPage)
    /// The entity's last page was handed over.
    case ended(RESTEntity)
    /// The provider does not let this client read the entity (demographics only).
    case notPermitted(RESTEntity)
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
