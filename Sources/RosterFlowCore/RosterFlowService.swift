import Crypto
import Foundation
import StorageCore
import WorkflowEngine

/// RosterFlow's domain API: customers, integrations, course mappings and tasks, over one store.
///
/// Every change is one transaction: the event, the new state, the history row, timers and outbox rows commit
/// together. Concurrent calls are group-committed by the store.
public final class RosterFlowService: Sendable {
    /// Where everything is kept; any ``RosterFlowStore`` (the composition root opens the SQLite one).
    let store: any RosterFlowStore
    public let runtime: WorkflowRuntime
    /// Set from a signal handler to stop the syncs and approvals in progress before they commit.
    public let cancellation = SyncCancellation()
    /// Integrations' tenants, which never change once an integration exists: every scoped API request asks.
    let tenantsOfIntegrations = TenantMemo()
    /// Valid tokens' principals, kept while nothing is committed (a revocation or a disabled account is a commit).
    let validTokens = CommitCache<(principal: Principal, expiresAt: Double?)>(capacity: 4_096)
    /// Seconds since 1970; injectable so tests can move time (timers, schedules).
    let clock: @Sendable () -> Double

    /// Loads the workflow definitions into `store` and runs RosterFlow over it.
    ///
    /// The definitions at `workflowsPath` are validated (every problem reported at once) and recorded in the
    /// database; a definition whose text changed under a version number the database already holds is refused.
    /// Every version the database holds stays available, so running instances keep the version they started on.
    /// With `workflowsPath` nil, only the definitions stored in the database are used.
    ///
    /// `builtIn` (file name and text) are the shipped definitions: with a folder, each of them whose workflow the
    /// folder does not define is recorded too (the folder's definition of a workflow replaces the built-in one); without
    /// a folder, each built-in version the database does not hold yet is recorded (a version it holds keeps its stored
    /// text).
    public init(
        store: any RosterFlowStore, workflowsPath: String?, builtIn: [(file: String, text: String)] = [],
        clock: @escaping @Sendable () -> Double = { Date().timeIntervalSince1970 }
    ) throws {
        self.store = store
        self.clock = clock
        let now = clock()
        let rules = DomainRules()
        do {
            var record: [(definition: WorkflowDefinition, source: String)] = []
            let folder = try workflowsPath.map { try WorkflowCatalog.load(from: $0, validator: DomainRules.validator) }
            for definition in folder?.definitions.values.sorted(by: { $0.name < $1.name }) ?? [] {
                record.append((definition, folder?.sources[definition.name] ?? ""))
            }
            if !builtIn.isEmpty {
                let shipped = try WorkflowCatalog.parse(builtIn.map { (file: "built-in \($0.file)", text: $0.text) }, validator: DomainRules.validator)
                let held = folder == nil ? Set(try store.readNow { try $0.storedDefinitions() }.map { "\($0.name)@\($0.version)" }) : []
                for definition in shipped.definitions.values.sorted(by: { $0.name < $1.name })
                where folder?[definition.name] == nil && !held.contains("\(definition.name)@\(definition.version)") {
                    record.append((definition, shipped.sources[definition.name] ?? ""))
                }
            }
            if !record.isEmpty {
                try store.writeNow { tx in
                    for (definition, source) in record {
                        try tx.recordDefinition(
                            name: definition.name, version: definition.version, source: source,
                            checksum: Self.checksum(source), file: definition.location.file, now: now)
                    }
                }
            }
            let stored = try store.readNow { try $0.storedDefinitions() }
            guard !stored.isEmpty else {
                throw RosterFlowError(
                    .workflowDefinition,
                    "no workflow definitions: run from the repository folder (it has Workflows/) or pass --workflows PATH")
            }
            var all: [WorkflowDefinition] = []
            var current: [String: WorkflowDefinition] = [:]
            for entry in stored {
                let catalog = try WorkflowCatalog.parse(
                    [(file: "\(entry.name)@\(entry.version) (stored)", text: entry.source)], validator: DomainRules.storedValidator)
                for definition in catalog.definitions.values {
                    all.append(definition)
                    if (current[definition.name]?.version ?? 0) < definition.version { current[definition.name] = definition }
                }
            }
            runtime = WorkflowRuntime(definitions: all, current: current, rules: rules)
        } catch {
            throw RosterFlowError.wrap(error)
        }
    }

    /// A definition text's checksum as stored with it: the SHA-256 of its UTF-8 bytes in lowercase hex. (Databases
    /// written before hold an FNV-1a form; `recordDefinition` then compares the texts.)
    static func checksum(_ text: String) -> String {
        Hex.lowercase(SHA256.hash(data: Data(text.utf8)))
    }

    /// Runs `body` as one group-committed transaction, translating errors for people.
    func write<T: Sendable>(_ body: @escaping @Sendable (any StoreTransaction, Double) throws -> T) async throws -> T {
        let clock = self.clock
        do {
            return try await store.write { tx in try body(tx, clock()) }
        } catch {
            throw RosterFlowError.wrap(error)
        }
    }

    func read<T>(_ body: (any StoreTransaction) throws -> T) throws -> T {
        do {
            return try store.readNow(body)
        } catch {
            throw RosterFlowError.wrap(error)
        }
    }

    // MARK: Customers

    /// Imports the customer registry from CSV text; all rows or none. Each customer added or changed is recorded in the
    /// audit log with its entry before and after, in the same transaction.
    public func importCustomers(csv: String, file: String, actor: String = Sender.system.actor) async throws -> CustomerImportResult {
        let rows = try CustomerRegistryCSV.parse(csv, file: file)
        let warnings = rows.flatMap { row in
            [("tenant_id", row.tenantID), ("district", row.district)].compactMap { column, value in
                NULWarning.check(value, "\(file):\(row.line): \(column)")
            }
        }
        return try await write { tx, now in
            var result = CustomerImportResult(added: 0, updated: 0, warnings: warnings.isEmpty ? nil : warnings)
            for row in rows {
                let record = CustomerRecord(
                    tenantID: NULWarning.strip(row.tenantID), district: NULWarning.strip(row.district),
                    contactEmail: row.contactEmail, importedAt: now)
                try Self.auditCustomerImport(tx, record, file: file, actor: actor, now: now)
                let added = try tx.upsertCustomer(record)
                if added { result.added += 1 } else { result.updated += 1 }
            }
            return result
        }
    }

    /// Every customer in the registry, by tenant id.
    public func customers() throws -> [CustomerRecord] {
        try read { try $0.customers() }
    }

    // MARK: Integrations

    /// ClassLink permission types.
    public static let permissions = ["rule-based", "full", "legacy-custom"]

    /// Records that a district enabled the app in ClassLink: a new integration in `requested`.
    public func requestIntegration(
        tenantID: String, district: String, permission: String, contactEmail: String, sender: Sender
    ) async throws -> IntegrationView {
        let request = try Self.checkRequest(tenantID: tenantID, district: district, permission: permission, contactEmail: contactEmail)
        let runtime = self.runtime
        let id = try await write { tx, now in
            try Self.insertRequest(
                request, reason: "district enabled the app in ClassLink (\(permission))", sender: sender, runtime: runtime, tx: tx, now: now
            ).instanceID
        }
        var view = try integration(id: id)
        if !request.warnings.isEmpty { view.warnings = request.warnings }
        return view
    }

    /// A request to integrate a district, checked: tenant id and district name without NUL bytes and not empty, a
    /// ClassLink permission type, a plain contact e-mail.
    struct IntegrationRequest: Sendable {
        var tenantID: String
        var district: String
        var permission: String
        var contactEmail: String
        var warnings: [String]
    }

    static func checkRequest(tenantID: String, district: String, permission: String, contactEmail: String) throws -> IntegrationRequest {
        let warnings = [("tenant id", tenantID), ("district name", district)].compactMap { NULWarning.check($1, "the \($0)") }
        let tenantID = NULWarning.strip(tenantID).trimmingCharacters(in: .whitespaces)
        let district = NULWarning.strip(district).trimmingCharacters(in: .whitespaces)
        guard !tenantID.isEmpty else { throw RosterFlowError(.invalidInput, "the tenant id is empty") }
        guard !district.isEmpty else { throw RosterFlowError(.invalidInput, "the district name is empty") }
        guard Self.permissions.contains(permission) else {
            throw RosterFlowError(
                .invalidInput,
                "permission '\(permission)' is not a ClassLink permission type; use one of \(Self.permissions.joined(separator: ", "))")
        }
        guard EmailAddress.isPlausible(contactEmail) else {
            throw RosterFlowError(.invalidInput, "'\(contactEmail)' is not an e-mail address")
        }
        return IntegrationRequest(
            tenantID: tenantID, district: district, permission: permission, contactEmail: contactEmail, warnings: warnings)
    }

    /// Starts the integration workflow for a checked request, in the caller's transaction.
    static func insertRequest(
        _ request: IntegrationRequest, reason: String, sender: Sender, runtime: WorkflowRuntime, tx: any StoreTransaction, now: Double
    ) throws -> AppliedStep {
        let id = Identifier.make(prefix: "int")
        return try runtime.start(
            tx, workflow: DomainVocabulary.Integration.workflow, id: id, subjectTitle: request.district, sender: sender,
            reason: reason, payload: [:], now: now
        ) { tx in
            try tx.insertIntegration(IntegrationRecord(
                id: id, tenantID: request.tenantID, district: request.district, permission: request.permission,
                contactEmail: request.contactEmail, createdAt: now))
        }
    }
}
