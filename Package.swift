// swift-tools-version:6.1
import PackageDescription

let package = Package(
    name: "RosterFlow",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "rosterflow", targets: ["rosterflow"]),
        .executable(name: "rosterflow-bench", targets: ["rosterflow-bench"]),
        .library(name: "WorkflowEngine", targets: ["WorkflowEngine"]),
        .library(name: "StorageCore", targets: ["StorageCore"]),
        .library(name: "StorageSQLite", targets: ["StorageSQLite"]),
        .library(name: "StoragePostgres", targets: ["StoragePostgres"]),
        .library(name: "RosterFlowCore", targets: ["RosterFlowCore"]),
        .library(name: "OneRoster", targets: ["OneRoster"]),
        .library(name: "OneRosterREST", targets: ["OneRosterREST"]),
    ],
    dependencies: [
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/weichsel/ZIPFoundation", from: "0.9.20"),
        .package(url: "https://github.com/yaslab/CSV.swift", from: "2.5.2"),
        .package(url: "https://github.com/hummingbird-project/swift-mustache", from: "2.1.1"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1", traits: []),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0"),
    ],
    targets: [
        // The shape every module's errors share: a stable code and a plain message.
        .target(name: "CodedErrors"),
        // The lifecycle engine: definitions, YAML loading, validation, the pure step function, diagrams. No I/O
        // beyond reading the definition text it is handed.
        .target(
            name: "WorkflowEngine",
            dependencies: ["CodedErrors", .product(name: "Yams", package: "Yams")]
        ),
        // Workflow definitions drawn as accessible, deterministic SVG (the dashboard, `rosterflow workflows diagram`).
        .target(name: "WorkflowDiagram", dependencies: ["WorkflowEngine"]),
        // The store seam: the records and the store protocols by concern (workflows, timers, outbox, directory, courses,
        // audit, roster, sync runs, schedules) with their transaction contract. No SQL, no database library.
        .target(name: "StorageCore", dependencies: ["CodedErrors"]),
        // The embedded store: one SQLite file (GRDB over the system libsqlite3), migrations, group commit, fast paths.
        .target(
            name: "StorageSQLite",
            dependencies: [
                "CodedErrors", "StorageCore",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "GRDBSQLite", package: "GRDB.swift"),
            ]
        ),
        // libpq, PostgreSQL's own client library (Debian: libpq-dev): synchronous like the store protocols, with TLS
        // modes, password files and PGPASSWORD built in, and no Swift build cost.
        .systemLibrary(name: "CLibPQ", pkgConfig: "libpq", providers: [.apt(["libpq-dev"])]),
        // The store on a PostgreSQL server, for several servers and workers on one database: a connection pool,
        // migrations under an advisory lock, claims with FOR UPDATE SKIP LOCKED.
        .target(name: "StoragePostgres", dependencies: ["CodedErrors", "StorageCore", "CLibPQ"]),
        // OneRoster 1.1/1.2 CSV bundles: streaming reader, typed models, validation report, sample generator. No storage.
        .target(
            name: "OneRoster",
            dependencies: [
                "CodedErrors", .product(name: "ZIPFoundation", package: "ZIPFoundation"),
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        // Measurements that compare our CSV reader with a library peer; used by `rosterflow-bench csv`.
        .target(
            name: "OneRosterBenchmarks",
            dependencies: ["OneRoster", .product(name: "CSV", package: "CSV.swift")]
        ),
        // The domain: customers, integrations, course mappings, tasks; turns commands into workflow events.
        .target(
            name: "RosterFlowCore",
            dependencies: [
                "CodedErrors", "WorkflowEngine", "StorageCore", "OneRoster", "OneRosterREST",
                .product(name: "Crypto", package: "swift-crypto"), .product(name: "Logging", package: "swift-log"),
                // RS256 id_token signatures of Sign in with ClassLink.
                .product(name: "_CryptoExtras", package: "swift-crypto"),
            ]
        ),
        // libcurl (Debian: libcurl4-openssl-dev) with typed wrappers for its variadic calls: SMTP and HTTP.
        .systemLibrary(
            name: "CCurl",
            pkgConfig: "libcurl",
            providers: [.apt(["libcurl4-openssl-dev"])]
        ),
        // Pulls rosters from OneRoster REST providers (OAuth 1.0a HMAC-SHA256 or OAuth 2 client credentials, paging,
        // retries) over libcurl, as a RosterSource read by the same validation as a CSV bundle.
        .target(
            name: "OneRosterREST",
            dependencies: ["CodedErrors", "OneRoster", "CCurl", .product(name: "Crypto", package: "swift-crypto")]
        ),
        // Notifications: templates, MIME mail, SMTP and spool transports, signed webhooks, the outbox dispatcher.
        .target(
            name: "Notifications",
            dependencies: [
                "CodedErrors", "StorageCore", "CCurl",
                .product(name: "Mustache", package: "swift-mustache"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The composition root: the service, the outbox dispatcher and the background services, built from
        // configuration; every front end (the CLI's worker, the server) runs RosterFlow through it.
        .target(
            name: "RosterFlowApp",
            dependencies: [
                "RosterFlowCore", "Notifications", "StorageCore", "StorageSQLite", "StoragePostgres",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // `rosterflow serve`: the HTTP API (problem+json errors, bearer tokens scoped by role and district) beside the
        // background services, on Hummingbird.
        .target(
            name: "RosterFlowServer",
            dependencies: [
                "CodedErrors", "WorkflowEngine", "StorageCore", "RosterFlowCore", "RosterFlowApp", "WorkflowDiagram",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Mustache", package: "swift-mustache"),
            ],
            resources: [
                .embedInCode("openapi.yaml"),
                // The dashboard's pages and stylesheet, built into the binary (it serves them from any folder).
                .embedInCode("Dashboard/layout.mustache"), .embedInCode("Dashboard/sign-in.mustache"),
                .embedInCode("Dashboard/sign-in-confirm.mustache"), .embedInCode("Dashboard/error.mustache"),
                .embedInCode("Dashboard/board.mustache"), .embedInCode("Dashboard/queue.mustache"),
                .embedInCode("Dashboard/school.mustache"), .embedInCode("Dashboard/integration.mustache"),
                .embedInCode("Dashboard/outbox.mustache"), .embedInCode("Dashboard/check.mustache"),
                .embedInCode("Dashboard/workflows.mustache"), .embedInCode("Dashboard/catalog.mustache"),
                .embedInCode("Dashboard/teacher.mustache"), .embedInCode("Dashboard/student.mustache"),
                .embedInCode("Dashboard/unlinked.mustache"), .embedInCode("Dashboard/unlinked-person.mustache"),
                .embedInCode("Dashboard/sign-in-restart.mustache"),
                .embedInCode("Dashboard/dashboard.css"),
            ]
        ),
        // The operator's command-line tool.
        .executableTarget(
            name: "rosterflow",
            dependencies: [
                "CodedErrors", "RosterFlowCore", "RosterFlowApp", "RosterFlowServer", "Notifications", "OneRoster", "OneRosterREST",
                "StorageCore", "WorkflowDiagram",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // libFuzzer target over the CSV reader and the manifest parser (a replay tool when built without libFuzzer).
        .executableTarget(name: "rosterflow-fuzz", dependencies: ["OneRoster"]),
        // Benchmarks, the bench webhook receiver, the load generator and the CSV reader comparison: tooling, not part of
        // the product (the `rosterflow` binary does not link it).
        .executableTarget(
            name: "rosterflow-bench",
            dependencies: [
                "RosterFlowCore", "RosterFlowApp", "Notifications", "OneRoster", "OneRosterREST", "OneRosterBenchmarks", "StorageCore",
                "StorageSQLite", "WorkflowEngine", "RosterFlowServer",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // Test support, not part of the product: starts the tests' loopback peers and reads their `READY <port>` line.
        .target(name: "TestPeers", path: "Tests/TestPeers"),
        .testTarget(name: "WorkflowEngineTests", dependencies: ["WorkflowEngine"]),
        .testTarget(name: "WorkflowDiagramTests", dependencies: ["WorkflowDiagram", "WorkflowEngine"]),
        .testTarget(name: "RosterFlowAppTests", dependencies: ["RosterFlowApp", "RosterFlowCore", "Notifications"]),
        .testTarget(
            name: "StorageTests",
            dependencies: ["StorageCore", "StorageSQLite", "WorkflowEngine", .product(name: "GRDB", package: "GRDB.swift")],
            exclude: ["Fixtures"]
        ),
        .testTarget(
            name: "RosterFlowCoreTests",
            dependencies: [
                "RosterFlowCore", "RosterFlowApp", "StorageCore", "StorageSQLite", .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(name: "OneRosterTests", dependencies: ["OneRoster"]),
        // The store contract: one test body per behaviour, run against every backend in StoreConformers.all.
        .testTarget(name: "StoreContractTests", dependencies: ["StorageCore", "StorageSQLite", "StoragePostgres"]),
        .testTarget(name: "OneRosterRESTTests", dependencies: ["OneRosterREST", "OneRoster", "TestPeers"]),
        // Runs the `rosterflow` and `rosterflow-bench` binaries (built for it) as processes.
        .testTarget(
            name: "CLITests",
            dependencies: [
                "rosterflow", "rosterflow-bench", "StorageCore", "StorageSQLite", "TestPeers", .product(name: "GRDB", package: "GRDB.swift"),
                // The scale-out kill test: reads the store it runs on (SQLite or PostgreSQL), signs inbound hooks.
                "StoragePostgres", .product(name: "Crypto", package: "swift-crypto"),
            ],
            // The browser walk (Python, selenium) the dashboard test runs.
            exclude: ["Browser"]
        ),
        .testTarget(
            name: "NotificationsTests",
            dependencies: ["Notifications", "RosterFlowCore", "RosterFlowApp", "StorageCore", "StorageSQLite", "TestPeers"]
        ),
        .testTarget(
            name: "RosterFlowServerTests",
            dependencies: [
                "RosterFlowServer", "RosterFlowApp", "RosterFlowCore", "StorageCore", "StorageSQLite", "WorkflowEngine", "OneRoster",
                "Notifications",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Yams", package: "Yams"),
                // The fake ClassLink's RSA keys; the independent provider's peer.
                .product(name: "_CryptoExtras", package: "swift-crypto"), "TestPeers", "OneRosterREST",
            ],
            // oidc-provider-mock's launcher (Python).
            exclude: ["Peers"]
        ),
    ],
    swiftLanguageModes: [.v6]
)
