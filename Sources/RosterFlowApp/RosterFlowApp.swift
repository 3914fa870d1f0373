import Foundation
import Logging
import Notifications
import RosterFlowCore
import ServiceLifecycle
import StorageCore
import StoragePostgres
import StorageSQLite

/// What a RosterFlow process needs to run: where its data and definitions are, how it notifies, and how often its
/// background services look for work.
public struct AppConfiguration: Sendable {
    /// The SQLite database file, or a `postgres://` URL (see ``RosterFlowService/openStore(databasePath:durability:)``).
    public var databasePath: String
    /// The workflow definitions folder (over the built-in ones, ``BuiltIns``); nil uses the built-in definitions and
    /// the versions the database holds.
    public var workflowsPath: String?
    /// SMTP, webhooks, recipients, retries (see `Templates/README.md`).
    public var notifications: NotificationConfig
    /// The e-mail templates folder (over the built-in ones, ``BuiltIns``); nil uses the configuration's, else
    /// `./Templates` when it exists, else the built-in templates.
    public var templatesPath: String?
    /// This process's name in outbox claims.
    public var workerID: String
    /// Pause between outbox passes that found nothing to send.
    public var pollInterval: Duration
    /// How often due workflow timers are fired.
    public var timerInterval: Duration
    /// How often due nightly syncs are looked for.
    public var syncInterval: Duration

    /// A configuration with the worker's defaults: a 1 s outbox poll, timers every 30 s, nightly syncs every minute, and
    /// this host and process as the worker's name.
    public init(
        databasePath: String, workflowsPath: String?, notifications: NotificationConfig, templatesPath: String? = nil,
        workerID: String? = nil, pollInterval: Duration = .seconds(1), timerInterval: Duration = .seconds(30),
        syncInterval: Duration = .seconds(60)
    ) {
        self.databasePath = databasePath
        self.workflowsPath = workflowsPath
        self.notifications = notifications
        self.templatesPath = templatesPath
        self.workerID = workerID ?? "\(ProcessInfo.processInfo.hostName):\(getpid())"
        self.pollInterval = pollInterval
        self.timerInterval = timerInterval
        self.syncInterval = syncInterval
    }

    /// Where spooled mail goes when no SMTP server is configured: the configuration's `spool`, else `outbox-spool`
    /// beside the database.
    public var spoolFolder: String {
        if let spool = notifications.spoolFolder { return spool }
        if PostgresConfiguration.isPostgresURL(databasePath) { return "./outbox-spool" }
        let folder = (databasePath as NSString).deletingLastPathComponent
        return (folder.isEmpty ? "." : folder) + "/outbox-spool"
    }
}

/// RosterFlow's composition root: the domain service, the outbox dispatcher and the background work (sending
/// notifications, firing timers, running nightly syncs), built once from an ``AppConfiguration``. Every front end that
/// runs RosterFlow — `rosterflow worker` today, `rosterflow serve` next — starts from here instead of wiring the parts
/// itself.
public final class RosterFlowApp: Sendable {
    public let configuration: AppConfiguration
    /// Where everything is kept: the SQLite database or the PostgreSQL server at ``AppConfiguration/databasePath``.
    public let store: any RosterFlowStore
    /// The domain API over the store.
    public let service: RosterFlowService
    /// Sends what the outbox holds.
    public let dispatcher: OutboxDispatcher

    /// Opens the database, loads the workflows and templates, and checks that every template the workflows send exists.
    public init(_ configuration: AppConfiguration) throws {
        self.configuration = configuration
        store = try RosterFlowService.openStore(databasePath: configuration.databasePath)
        service = try RosterFlowService(store: store, workflowsPath: configuration.workflowsPath, builtIn: BuiltIns.workflows)
        let catalog = try BuiltIns.templateCatalog(folder: configuration.templatesPath ?? configuration.notifications.templatesPath)
        try catalog.check(uses: service.notificationUses().map { (workflow: $0.workflow, template: $0.template) })
        dispatcher = OutboxDispatcher(
            store: store, config: configuration.notifications, templates: catalog, workerID: configuration.workerID,
            spoolFolder: configuration.spoolFolder)
    }

    /// Does the background work once: fires due timers, writes due daily digests, runs due nightly syncs, and sends
    /// everything that is due.
    public func runOnce() async throws -> DispatchReport {
        _ = try await service.fireDueTimers()
        _ = try await service.sendDueDigests()
        _ = try await service.runDueSyncs()
        return try dispatcher.drain()
    }

    /// The background work as services: the outbox dispatcher, due timers and nightly syncs. On graceful shutdown the
    /// dispatcher finishes and records the sends in flight, and a nightly sync in progress rolls back (it stays due).
    public func backgroundServices(logger: Logger) -> [any Service] {
        let service = self.service
        let timers = PeriodicService(name: "timers", interval: configuration.timerInterval, logger: logger) {
            let fired = try await service.fireDueTimers()
            if !fired.isEmpty { logger.info("fired \(fired.count) due timer(s)") }
            let digests = try await service.sendDueDigests()
            if !digests.isEmpty { logger.info("wrote \(digests.count) daily digest(s)") }
        }
        let syncs = PeriodicService(name: "nightly-syncs", interval: configuration.syncInterval, logger: logger) {
            let outcomes = try await withGracefulShutdownHandler {
                try await service.runDueSyncs()
            } onGracefulShutdown: {
                service.cancellation.cancel(signal: SIGTERM)
            }
            for outcome in outcomes {
                let alert = outcome.alert.map { "; alert: \($0)" } ?? ""
                logger.info("nightly sync of \(outcome.integrationID): \(outcome.decision)\(alert); next \(outcome.nextSyncAt)")
            }
        }
        let dispatch = DispatcherService(dispatcher: dispatcher, pollInterval: configuration.pollInterval, logger: logger)
        return [dispatch, timers, syncs]
    }

    /// Runs the background services until SIGTERM or SIGINT, then shuts them down gracefully.
    public func run(logger: Logger) async throws {
        let group = ServiceGroup(configuration: .init(
            services: backgroundServices(logger: logger).map { .init(service: $0) },
            gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }
}

extension RosterFlowService {
    /// Opens the store `databasePath` names, with RosterFlow's errors: a `postgres://` (or `postgresql://`) URL opens the
    /// PostgreSQL store (see `PostgresConfiguration`), anything else the SQLite database file at that path (created
    /// when missing). Either is migrated to the current schema first.
    public static func openStore(
        databasePath: String, durability: SQLiteStore.Durability = .pipelined
    ) throws -> any RosterFlowStore {
        do {
            if PostgresConfiguration.isPostgresURL(databasePath) {
                return try PostgresStore(url: databasePath)
            }
            return try SQLiteStore(path: databasePath, durability: durability)
        } catch {
            throw RosterFlowError.wrap(error)
        }
    }

    /// The names of the schema migrations applied to the store at `databasePath` (SQLite file or PostgreSQL URL),
    /// oldest first, after opening it (which applies any that are missing).
    public static func appliedMigrations(databasePath: String) throws -> (engine: String, migrations: [String]) {
        do {
            if PostgresConfiguration.isPostgresURL(databasePath) {
                return ("PostgreSQL", try PostgresStore(url: databasePath).appliedMigrations())
            }
            return ("SQLite", try SQLiteStore(path: databasePath).appliedMigrations())
        } catch {
            throw RosterFlowError.wrap(error)
        }
    }

    /// RosterFlow over the SQLite database at `databasePath` (the embedded default) or the PostgreSQL database a
    /// `postgres://` URL names: opens the database, then loads
    /// the workflow definitions as ``init(store:workflowsPath:builtIn:clock:)`` does (pass ``BuiltIns/workflows`` as
    /// `builtIn` to run the shipped definitions where no folder overrides them).
    public convenience init(
        databasePath: String, workflowsPath: String?, builtIn: [(file: String, text: String)] = [],
        durability: SQLiteStore.Durability = .pipelined,
        clock: @escaping @Sendable () -> Double = { Date().timeIntervalSince1970 }
    ) throws {
        try self.init(
            store: Self.openStore(databasePath: databasePath, durability: durability), workflowsPath: workflowsPath,
            builtIn: builtIn, clock: clock)
    }
}
