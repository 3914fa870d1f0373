import Foundation
import OneRoster
@testable import OneRosterREST
import XCTest

/// Pulls from the loopback provider (scripts/peers/oneroster_provider.py), which verifies every request as a real one
/// would.
final class RESTPullTests: XCTestCase {
    func read(_ source: RESTRosterSource, held: any HeldSourcedIds = NoHeldSourcedIds()) throws -> OneRosterBundle {
        try source.read(options: .init(retainRecords: true), held: held, visitor: nil)
    }

    // MARK: OAuth 1.0a (1.1, ClassLink)

    func testA11PullSignedWithOAuth1ReadsTheWholeDistrictOverManyPages() throws {
        let provider = try Provider(["--users", "60", "--classes", "8"])
        let bundle = try read(provider.source(provider.config(pageSize: 7)))
        XCTAssertEqual(bundle.report.errorCount, 0, bundle.report.rendered(maxPerFile: 5))
        XCTAssertEqual(bundle.users.count, 60)
        XCTAssertEqual(bundle.classes.count, 8)
        XCTAssertEqual(bundle.enrollments.count, 8 + 52 * 2)
        XCTAssertEqual(bundle.orgs.count, 2)
        XCTAssertEqual(bundle.version, .v1_1)
        XCTAssertEqual(bundle.manifest.mode(of: .users), .bulk)
        let users = try provider.gets("users")
        XCTAssertEqual(users.count, 9, "60 users in pages of 7: 9 pages, stopping at X-Total-Count")
        XCTAssertTrue(users.allSatisfy { $0["auth"] as? String == "ok" && $0["status"] as? Int == 200 })
        XCTAssertEqual(users.map { ($0["query"] as? [String: String])?["offset"] }, (0..<9).map { String($0 * 7) })
        let teacher = try XCTUnwrap(bundle.users.first { $0.sourcedId == "t-1" })
        XCTAssertEqual(teacher.role, .teacher)
        XCTAssertEqual(teacher.orgSourcedIds, ["org-s1"])
        XCTAssertEqual(teacher.userIds.map(\.csvText), ["{SIS:T-1}"])
    }

    func testTheProviderRefusesAWrongSecretAndThePullFailsAtOnceNamingTheCredential() throws {
        let provider = try Provider()
        XCTAssertThrowsError(try read(provider.source(provider.config(), secret: "wrong-secret-value"))) { error in
            let rest = error as? OneRosterRESTError
            XCTAssertEqual(rest?.code, .unauthorized)
            let message = rest?.message ?? ""
            XCTAssertTrue(message.contains("client-1") && message.contains("OR_SECRET") && message.contains("HTTP 401"), message)
            XCTAssertTrue(message.contains("credentials were not accepted"), message)
            XCTAssertFalse(message.contains("wrong-secret-value"))
            XCTAssertFalse(message.contains(provider.secret))
        }
        XCTAssertEqual(try provider.gets("orgs").count, 1, "a 401 is not retried")
    }

    func testTheProviderRefusesAReplayedNonceAndAStaleTimestamp() throws {
        let provider = try Provider()
        let transport = CurlHTTPTransport()
        let signer = OAuth1Signer(clientID: provider.clientID, secret: provider.secret)
        let url = provider.url + "/ims/oneroster/v1p1/orgs?" + oauthQueryString([("limit", "5"), ("offset", "0")])
        let now = Int(Date().timeIntervalSince1970)
        let header = signer.authorization(method: "GET", url: url, nonce: "fixed-nonce", timestamp: now)
        func status(_ header: String) throws -> Int {
            try transport.send(HTTPRequest(method: "GET", url: url, headers: [("Authorization", header)])).status
        }
        XCTAssertEqual(try status(header), 200)
        XCTAssertEqual(try status(header), 401, "the same nonce again is a replay")
        XCTAssertEqual(try status(signer.authorization(method: "GET", url: url, nonce: "other", timestamp: now - 3_600)), 401)
        XCTAssertEqual(try status(signer.authorization(method: "GET", url: url + "&extra=1", nonce: "n3", timestamp: now)
            .replacingOccurrences(of: "n3", with: "n3")), 401, "a parameter added after signing breaks the signature")
        XCTAssertEqual(try status(signer.authorization(method: "GET", url: url, nonce: "n4", timestamp: now)), 200)
        XCTAssertEqual(try provider.requests().map { $0["auth"] as? String },
                       ["ok", "replayed nonce", "stale timestamp", "bad signature", "ok"])
    }

    func testADeltaPullSignsItsFilterAndAsksOnlyForChangedRecords() throws {
        let provider = try Provider(["--users", "30", "--classes", "4"])
        try provider.touch("users", "s-3", field: "givenName", value: "Renamed")
        let since = Date().addingTimeInterval(-60)
        let held = HeldSourcedIdSets([.org: ["org-d", "org-s1"], .academicSession: ["as-y", "as-t1"],
                                           .course: ["crs-1"], .rosterClass: ["cls-1"], .user: ["s-3"]])
        let bundle = try read(provider.source(provider.config(), changedSince: since), held: held)
        XCTAssertEqual(bundle.manifest.mode(of: .users), .delta)
        XCTAssertEqual(bundle.users.map(\.sourcedId), ["s-3"])
        XCTAssertEqual(bundle.users.first?.givenName, "Renamed")
        XCTAssertEqual(bundle.enrollments.count, 0)
        let filter = try XCTUnwrap((try provider.gets("users").first?["query"] as? [String: String])?["filter"])
        XCTAssertTrue(filter.hasPrefix("dateLastModified>'") && filter.hasSuffix("Z'"), filter)
        XCTAssertTrue(try provider.requests().allSatisfy { ($0["auth"] as? String) == "ok" })
    }

    // MARK: OAuth 2 (1.2)

    func testA12PullWithOAuth2CachesTheTokenAndRefreshesItOnceOn401() throws {
        let scope = "https://purl.imsglobal.org/spec/or/v1p2/scope/roster.readonly"
        let provider = try Provider(["--version", "1.2", "--auth", "oauth2", "--scope", scope, "--revoke-after", "4",
                                     "--users", "40", "--classes", "4"])
        let bundle = try read(provider.source(provider.config(version: .v1_2, scope: scope)))
        XCTAssertEqual(bundle.report.errorCount, 0, bundle.report.rendered(maxPerFile: 5))
        XCTAssertEqual(bundle.version, .v1_2)
        XCTAssertEqual(bundle.users.count, 40)
        XCTAssertEqual(bundle.users.first { $0.sourcedId == "s-1" }?.roles.map(\.role), [.student])
        let requests = try provider.requests()
        let tokens = requests.filter { $0["method"] as? String == "POST" }
        XCTAssertEqual(tokens.count, 2, "one token, then one refresh after the provider revoked it")
        XCTAssertTrue(tokens.allSatisfy { $0["scope"] as? String == scope })
        XCTAssertEqual(requests.filter { $0["status"] as? Int == 401 }.count, 1)
    }

    func testAWrongOAuth2SecretFailsNamingTheTokenURL() throws {
        let provider = try Provider(["--version", "1.2", "--auth", "oauth2"])
        XCTAssertThrowsError(try read(provider.source(provider.config(version: .v1_2), secret: "nope"))) { error in
            let rest = error as? OneRosterRESTError
            XCTAssertEqual(rest?.code, .unauthorized)
            XCTAssertTrue(rest?.message.contains("/token") == true && rest?.message.contains("invalid_client") == true,
                          rest?.message ?? "")
        }
    }

    // MARK: paging

    func testPagingStopsOnLinkHeadersShortPagesAndEmptyPages() throws {
        let linked = try Provider(["--users", "45", "--paging", "link"])
        _ = try read(linked.source(linked.config(pageSize: 10)))
        XCTAssertEqual(try linked.gets("users").count, 5, "45 users: 5 pages, the last has no rel=next")

        let short = try Provider(["--users", "45", "--paging", "short"])
        _ = try read(short.source(short.config(pageSize: 10)))
        XCTAssertEqual(try short.gets("users").count, 5, "no headers: stops at the short fifth page")

        let even = try Provider(["--users", "40", "--paging", "short"])
        let bundle = try read(even.source(even.config(pageSize: 10)))
        let pages = try even.gets("users")
        XCTAssertEqual(pages.count, 5, "no headers, 40 users: the fifth page is empty and ends it")
        XCTAssertEqual(pages.last?["count"] as? Int, 0)
        XCTAssertEqual(bundle.users.count, 40)
    }

    func testACheckpointThatThrowsStopsThePullAtThatPage() throws {
        struct Stop: Error {}
        final class Pages: @unchecked Sendable {
            let lock = NSLock()
            var count = 0
        }
        let provider = try Provider(["--users", "200"])
        var source = provider.source(provider.config(pageSize: 10))
        let pages = Pages()
        source.checkpoint = {
            pages.lock.lock()
            defer { pages.lock.unlock() }
            pages.count += 1
            if pages.count == 6 { throw Stop() }
        }
        XCTAssertThrowsError(try read(source)) { XCTAssertTrue($0 is Stop, "\($0)") }
        let gets = try provider.requests().filter { $0["method"] as? String == "GET" }
        // The checkpoint runs on the fetching thread after each page: orgs, sessions, courses, classes, then users pages
        // 1 and 2; the pages after the sixth may have been asked for already (while the sixth was decoded, at most
        // two answers waiting beyond the one taken), and nothing after them.
        let users = try provider.gets("users").count
        XCTAssertTrue((3...4).contains(users), "users pages 1 and 2, and page 3 (or 3 and 4) ahead: \(users)")
        XCTAssertEqual(gets.count, 4 + users, "orgs, sessions, courses, classes, and those users pages")
        XCTAssertTrue(try provider.gets("enrollments").isEmpty)
    }

    /// Pages are fetched on a thread of their own while the one before is laid out; they are still laid out in the
    /// order they came, entity after entity, page after page.
    func testPagesAreLaidOutInTheOrderTheProviderSentThem() throws {
        final class Lines: @unchecked Sendable {
            let lock = NSLock()
            var values: [String] = []
        }
        let provider = try Provider(["--users", "95", "--classes", "8"])
        var source = provider.source(provider.config(pageSize: 5))
        let lines = Lines()
        source.progress = { line in lines.lock.lock(); lines.values.append(line); lines.lock.unlock() }
        let bundle = try read(source)
        XCTAssertEqual(bundle.report.errorCount, 0, bundle.report.rendered(maxPerFile: 5))
        XCTAssertEqual(bundle.users.count, 95)
        // "users: page 3, 15 records of 95": entity and page of each line, in order.
        let seen = lines.values.map { line -> (String, Int) in
            let parts = line.split(separator: ":", maxSplits: 1)
            let page = Int(parts[1].split(separator: ",")[0].dropFirst(" page ".count)) ?? -1
            return (String(parts[0]), page)
        }
        let entities = seen.map(\.0).reduce(into: [String]()) { if $0.last != $1 { $0.append($1) } }
        XCTAssertEqual(entities, ["orgs", "academicSessions", "courses", "classes", "users", "enrollments"])
        for entity in entities {
            let numbers = seen.filter { $0.0 == entity }.map(\.1)
            XCTAssertEqual(numbers, Array(1...numbers.count), entity)
        }
        XCTAssertEqual(seen.filter { $0.0 == "users" }.count, 19)
        XCTAssertEqual(try provider.gets("users").map { ($0["query"] as? [String: String])?["offset"] },
                       (0..<19).map { String($0 * 5) })
    }

    /// A page that fails part-way through a collection stops the fetching thread there (nothing later is asked for)
    /// and fails the pull, whatever pages were already laid out.
    func testAFailureMidCollectionStopsTheFetchingAndFailsThePull() throws {
        let provider = try Provider(["--users", "200", "--fault", "error@users:7:0"])
        XCTAssertThrowsError(try read(provider.source(provider.config(pageSize: 10)))) { error in
            let rest = error as? OneRosterRESTError
            XCTAssertEqual(rest?.code, .provider, "\(error)")
            XCTAssertTrue(rest?.message.contains("users (page 7)") == true, rest?.message ?? "")
        }
        XCTAssertEqual(try provider.gets("users").count, 7, "pages 1 to 7, nothing after the failed one")
        XCTAssertTrue(try provider.gets("enrollments").isEmpty)
    }

    // MARK: faults

    func testA429IsRetriedAfterRetryAfterAndA500AndATruncatedPageAreRetried() throws {
        let provider = try Provider(["--fault", "429@users:2", "--fault", "500@classes:1:2", "--fault", "truncate@enrollments:3"])
        let bundle = try read(provider.source(provider.config(pageSize: 10)))
        XCTAssertEqual(bundle.report.errorCount, 0)
        XCTAssertEqual(bundle.users.count, 60)
        let users = try provider.gets("users")
        XCTAssertEqual(users.filter { $0["page"] as? Int == 2 }.map { $0["status"] as? Int }, [429, 200])
        XCTAssertEqual(try provider.gets("classes").filter { $0["page"] as? Int == 1 }.map { $0["status"] as? Int }, [500, 500, 200])
        XCTAssertEqual(try provider.gets("enrollments").filter { $0["page"] as? Int == 3 }.map { $0["fault"] as? String },
                       ["truncate", nil])
    }

    func testRetryAfterIsHonoured() throws {
        final class Sleeps: @unchecked Sendable {
            let lock = NSLock()
            var values: [Double] = []
        }
        let sleeps = Sleeps()
        let provider = try Provider(["--fault", "429@orgs:1"])
        let client = OneRosterRESTClient(
            config: provider.config(), secret: provider.secret, retry: RetryPolicy(attempts: 3, baseDelay: 0.01, maxDelay: 30),
            sleep: { seconds in sleeps.lock.lock(); sleeps.values.append(seconds); sleeps.lock.unlock() })
        var count = 0
        try client.pages(path: "/orgs", key: "orgs", filter: nil) { count += $0.records.count }
        XCTAssertEqual(count, 2)
        XCTAssertEqual(sleeps.values, [1], "the provider's Retry-After: 1, not the 0.01 s backoff")
    }

    func testAnErrorPayloadWrappedInStatusInfoSetBecomesAPlainMessageAndFailsThePull() throws {
        let provider = try Provider(["--fault", "error@courses:1:0"])
        XCTAssertThrowsError(try read(provider.source(provider.config()))) { error in
            let rest = error as? OneRosterRESTError
            XCTAssertEqual(rest?.code, .provider)
            let message = rest?.message ?? ""
            XCTAssertTrue(message.contains("HTTP 400") && message.contains("invalid_filter_field")
                && message.contains("not one the provider supports") && message.contains("filter field not supported"), message)
        }
        XCTAssertEqual(try provider.gets("courses").count, 1, "a 400 is not retried")
        XCTAssertEqual(try provider.gets("users").count, 0, "the pull stopped there")
    }

    func testA403FailsAtOnceTellingWhichCredentialToCheck() throws {
        let provider = try Provider(["--fault", "forbidden@users:1:0"])
        XCTAssertThrowsError(try read(provider.source(provider.config()))) { error in
            let message = (error as? OneRosterRESTError)?.message ?? ""
            XCTAssertEqual((error as? OneRosterRESTError)?.code, .unauthorized)
            XCTAssertTrue(message.contains("HTTP 403") && message.contains("client-1") && message.contains("access to users"), message)
        }
        XCTAssertEqual(try provider.gets("users").count, 1)
    }

    func testRetriesGiveUpAfterTheLastAttemptSayingHowMany() throws {
        let provider = try Provider(["--fault", "500@orgs:1:0"])
        XCTAssertThrowsError(try read(provider.source(provider.config()))) { error in
            let message = (error as? OneRosterRESTError)?.message ?? ""
            XCTAssertTrue(message.contains("HTTP 500") && message.contains("after 4 attempts") && message.contains("failed internally"),
                          message)
        }
        XCTAssertEqual(try provider.gets("orgs").count, 4)
    }

    // MARK: JSON quirks

    func testJSONQuirksAreAcceptedAndReportedByRecordAndPage() throws {
        let provider = try Provider(["--quirks", "--users", "30", "--classes", "4"])
        let bundle = try read(provider.source(provider.config(pageSize: 10)))
        XCTAssertEqual(bundle.report.errorCount, 0, bundle.report.rendered(maxPerFile: 5))
        let teacher = try XCTUnwrap(bundle.users.first { $0.sourcedId == "t-1" })
        XCTAssertTrue(teacher.enabledUser, "a JSON boolean")
        XCTAssertEqual(teacher.extensions["metadata.sis.homeroom"], "7B")
        let rosterClass = try XCTUnwrap(bundle.classes.first { $0.sourcedId == "cls-1" })
        XCTAssertEqual(rosterClass.classCode, "Y7-Jackson,W")
        XCTAssertEqual(rosterClass.courseSourcedId, "crs-1", "a bare id instead of a GUIDRef")
        XCTAssertEqual(rosterClass.extensions["metadata.sis.capacity"], "30")
        let dateOnly = try XCTUnwrap(bundle.report.issues.first { $0.sourcedId == "t-1" && $0.column == "dateLastModified" },
                                     bundle.report.rendered(maxPerFile: 5))
        XCTAssertEqual(dateOnly.location, .record(entity: "users", sourcedId: "t-1", page: 1))
        XCTAssertEqual(dateOnly.locationText, "record t-1 of users, page 1")
        XCTAssertNil(dateOnly.line)
    }

    /// Records are checked (and handed to the visitor) while later collections are still being pulled: the first
    /// org is checked while at most `entitiesAhead` pulled collections wait, so before any user was asked for.
    func testRecordsAreCheckedWhileLaterCollectionsAreStillPulled() throws {
        final class Seen: @unchecked Sendable {
            var usersAskedForAtFirstOrg: Int?
            var enrollmentsAskedForAtFirstOrg: Int?
        }
        let provider = try Provider(["--users", "120", "--classes", "8"])
        let source = provider.source(provider.config(pageSize: 5))
        let seen = Seen()
        let bundle = try source.read(options: .init(retainRecords: true), held: NoHeldSourcedIds()) { record in
            guard case .org = record, seen.usersAskedForAtFirstOrg == nil else { return }
            seen.usersAskedForAtFirstOrg = try provider.gets("users").count
            seen.enrollmentsAskedForAtFirstOrg = try provider.gets("enrollments").count
        }
        XCTAssertEqual(bundle.report.errorCount, 0, bundle.report.rendered(maxPerFile: 5))
        XCTAssertEqual(bundle.users.count, 120)
        XCTAssertEqual(RESTRosterSource.entitiesAhead, 2)
        // Orgs are being checked; sessions and courses may wait (two entities), classes may be pulled, no further.
        XCTAssertEqual(seen.usersAskedForAtFirstOrg, 0)
        XCTAssertEqual(seen.enrollmentsAskedForAtFirstOrg, 0)
        XCTAssertEqual(try provider.gets("enrollments").count, 47, "8 + 112 × 2 enrollments in pages of 5, then all read")
    }

    /// Enrollments are checked (and handed to the visitor, which a sync diffs) page by page while later pages are
    /// still pulled: at the first enrollment only the pages that may wait (``RESTRosterSource/pagesAhead``) and the
    /// one being fetched are in, not all of them.
    func testEnrollmentsAreCheckedPageByPageWhileLaterPagesArePulled() throws {
        final class Seen: @unchecked Sendable {
            var enrollmentPagesAtFirstEnrollment: Int?
            var enrollments = 0
        }
        let provider = try Provider(["--users", "300", "--classes", "8"])
        let source = provider.source(provider.config(pageSize: 5))
        let seen = Seen()
        let bundle = try source.read(options: .init(retainRecords: false), held: NoHeldSourcedIds()) { record in
            guard case .enrollment = record else { return }
            seen.enrollments += 1
            if seen.enrollmentPagesAtFirstEnrollment == nil {
                seen.enrollmentPagesAtFirstEnrollment = try provider.gets("enrollments").count
            }
        }
        XCTAssertEqual(bundle.report.errorCount, 0, bundle.report.rendered(maxPerFile: 5))
        XCTAssertEqual(seen.enrollments, 8 + 292 * 2)
        let pages = try provider.gets("enrollments").count
        XCTAssertEqual(pages, 119, "592 enrollments in pages of 5")
        XCTAssertLessThanOrEqual(try XCTUnwrap(seen.enrollmentPagesAtFirstEnrollment), RESTRosterSource.pagesAhead + 3)
        XCTAssertEqual(bundle.report.files.first { $0.file == "enrollments.csv" }?.rowsLoaded, 592)
    }

    /// A later page that carries a newer copy of an enrollment already handed over: the read with a visitor throws
    /// `RosterSourceReadAgain` (what the visitor got must be dropped), and the next read of the same source holds
    /// enrollments back until their last page, keeping the newer copy once. Without a visitor the read starts again
    /// by itself.
    func testANewerCopyOfAnEnrollmentHandedOverAlreadyMakesTheReadStartAgain() throws {
        // 8 teachers + 87 students × 2 = 182 enrollments: the 19th page of 10 is the last (2 records, and the copy).
        let provider = try Provider(["--users", "95", "--classes", "8", "--fault", "repeat@enrollments:19:0"])
        let source = provider.source(provider.config(pageSize: 10))
        var visited = 0
        XCTAssertThrowsError(try source.read(options: .init(retainRecords: false), held: NoHeldSourcedIds()) { _ in visited += 1 }) {
            let again = $0 as? RosterSourceReadAgain
            XCTAssertTrue(again?.reason.contains("enrollments record `enr-t-1` came again on page 19") == true, "\($0)")
        }
        XCTAssertGreaterThan(visited, 100, "enrollments were handed over before the copy came")
        let bundle = try read(source)
        XCTAssertEqual(bundle.report.errorCount, 0, bundle.report.rendered(maxPerFile: 5))
        XCTAssertEqual(bundle.enrollments.count, 182)
        let copies = bundle.enrollments.filter { $0.sourcedId == "enr-t-1" }
        XCTAssertEqual(copies.count, 1)
        XCTAssertEqual(copies.first?.dateLastModified, Date(timeIntervalSince1970: 1_767_225_600 + 86_400), "the newer copy")
        XCTAssertEqual(try provider.gets("enrollments").count, 38, "pulled twice")

        let fresh = provider.source(provider.config(pageSize: 10))
        XCTAssertEqual(try read(fresh).enrollments.count, 182, "without a visitor the read starts again by itself")
        XCTAssertEqual(try provider.gets("enrollments").count, 76, "pulled twice more")
    }

    /// A pull writes no files: its records go to the reader in memory.
    func testAPullWritesNothingToTheTemporaryFolder() throws {
        final class Listings: @unchecked Sendable {
            let lock = NSLock()
            var entries: Set<String> = []
        }
        let provider = try Provider(["--users", "30", "--classes", "4"])
        let temporary = FileManager.default.temporaryDirectory.appendingPathComponent("rest-tmp-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: temporary, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: temporary) }
        var source = provider.source(provider.config(pageSize: 4))
        let listings = Listings()
        let look = { @Sendable in
            let names = (try? FileManager.default.contentsOfDirectory(atPath: temporary.path)) ?? []
            listings.lock.lock()
            listings.entries.formUnion(names)
            listings.lock.unlock()
        }
        source.checkpoint = { look() }
        let bundle = try source.read(options: .init(retainRecords: true, temporaryDirectory: temporary),
                                     held: NoHeldSourcedIds()) { _ in look() }
        XCTAssertEqual(bundle.users.count, 30)
        XCTAssertEqual(listings.entries, [], "nothing written under the temporary folder while pulling or reading")
    }

    /// The rows a pull hands over in memory read exactly as the same rows written as a CSV bundle: the same records,
    /// issues (with their lines and quirks: a line break and a NUL byte in a value, a value over the size cap) and
    /// summaries.
    func testRowsInMemoryReadAsTheSameRowsInCSVFiles() throws {
        struct Tables: RosterRowTables {
            var tables: [OneRosterFile: RosterRowTable]
            func table(for file: OneRosterFile) throws -> RosterRowTable? { tables[file] }
        }
        let orgs = RosterRowTable(header: ["sourcedId", "status", "dateLastModified", "name", "type", "identifier", "parentSourcedId"],
                                  rows: [["org-d", "active", "2026-01-01T00:00:00Z", "District", "district", "", ""],
                                         ["org-1", "active", "2026-01-01T00:00:00Z", "School, \"One\"", "school", "", "org-d"],
                                         ["org-2", "active", "2026-01-01T00:00:00Z", "Two\nLines", "school", "", "org-x"],
                                         ["org-3", "active", "2026-01-01", "Nul\u{0}Byte", "school", "", "org-d"],
                                         ["org-4", "active", "2026-01-01T00:00:00Z", String(repeating: "x", count: 2_000), "school", "", "org-d"]])
        let users = RosterRowTable(
            header: RESTBundleLayout.columns(.users, version: .v1_1).map(\.0) + ["metadata.sis.room"],
            rows: [["u-1", "active", "2026-01-01T00:00:00Z", "true", "org-1", "student", "u1", "", "A", "B", "", "", "", "", "", "", "07", "", "B12"],
                   ["u-2", "active", "2026-01-01T00:00:00Z", "yes", "org-2", "student", "u2", "", "", "B", "", "", "", "", "", "", "", "", ""]])
        var limits = InputLimits.fromEnvironment([:])
        limits.maxFieldBytes = 1_024
        let options = OneRosterBundleReader.Options(limits: limits)
        let inMemory = try OneRosterBundleReader(options: options).read(
            version: .v1_1, modes: [.orgs: .bulk, .users: .bulk], sourceSystemName: "OneRoster REST",
            tables: Tables(tables: [.orgs: orgs, .users: users]), visitor: nil)

        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("rows-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        try Data(RESTBundleLayout.manifest(version: .v1_1, pulled: ["orgs", "users"], mode: .bulk).utf8)
            .write(to: folder.appendingPathComponent("manifest.csv"))
        // One value per line, so that line numbers match: the line break is the only one in the file, on its last row
        // but two, and the rows after it are not compared by line.
        try RESTBundleLayout.write(orgs, name: "orgs.csv", to: folder)
        try RESTBundleLayout.write(users, name: "users.csv", to: folder)
        let fromFiles = try OneRosterBundleReader(options: options).read(at: folder)

        XCTAssertEqual(inMemory.orgs.map(\.sourcedId), fromFiles.orgs.map(\.sourcedId))
        XCTAssertEqual(inMemory.orgs.map(\.name), fromFiles.orgs.map(\.name))
        XCTAssertEqual(inMemory.users.map(\.sourcedId), fromFiles.users.map(\.sourcedId))
        XCTAssertEqual(inMemory.users.first?.extensions["metadata.sis.room"], "B12")
        XCTAssertEqual(inMemory.manifest.fileModes, fromFiles.manifest.fileModes)
        XCTAssertEqual(inMemory.report.files.map(\.rowsRead), fromFiles.report.files.map(\.rowsRead))
        XCTAssertEqual(inMemory.report.files.map(\.rowsLoaded), fromFiles.report.files.map(\.rowsLoaded))
        XCTAssertEqual(inMemory.report.files.map(\.rowsQuarantined), fromFiles.report.files.map(\.rowsQuarantined))
        func codes(_ bundle: OneRosterBundle) -> [String] {
            bundle.report.issues.map { "\($0.file) \($0.code.rawValue) \($0.column ?? "")" }.sorted()
        }
        XCTAssertEqual(codes(inMemory), codes(fromFiles))
        for code in [IssueCode.lineBreakInField, .nulByte, .rowTooLarge] {
            XCTAssertTrue(inMemory.report.issues.contains { $0.code == code }, "\(code): \(inMemory.report.rendered(maxPerFile: 20))")
        }
        // Lines up to the row with the line break are the same in both.
        func lines(_ bundle: OneRosterBundle) -> [String] {
            bundle.report.issues.filter { ($0.line ?? 0) <= 4 }.map { "\($0.file):\($0.line ?? 0) \($0.code.rawValue)" }.sorted()
        }
        XCTAssertEqual(lines(inMemory), lines(fromFiles))
    }

    func testAnErrorInARecordIsLocatedByEntitySourcedIdAndPage() throws {
        var layout = RESTBundleLayout(version: .v1_1)
        func user(_ id: String, _ modified: String, given: JSONValue = .string("A")) -> JSONValue {
            .object(["sourcedId": .string(id), "status": .string("active"), "dateLastModified": .string(modified),
                     "enabledUser": .string("true"), "role": .string("student"), "username": .string(id),
                     "givenName": given, "familyName": .string("B"), "orgs": .array([.string("org-1")])])
        }
        let org: JSONValue = .object(["sourcedId": .string("org-1"), "status": .string("active"), "name": .string("S"),
                                      "type": .string("school")])
        layout.add(org, entity: .orgs, page: 1)
        layout.add(user("u-1", "2026-01-01T00:00:00Z"), entity: .users, page: 1)
        layout.add(user("u-2", "2026-01-01T00:00:00Z", given: .null), entity: .users, page: 3)
        layout.add(user("u-1", "2026-01-01T00:00:00Z"), entity: .users, page: 2)
        layout.add(user("u-3", "2026-01-01T00:00:00Z"), entity: .users, page: 3)
        layout.add(user("u-3", "2026-02-01T00:00:00Z", given: .string("Later")), entity: .users, page: 4)
        layout.add(.string("not a record"), entity: .users, page: 4)
        layout.add(user("u-4", "2026-01-01T00:00:00Z", given: .object(["x": .number("1")])), entity: .users, page: 4)
        struct Tables: RosterRowTables {
            var tables: [OneRosterFile: RosterRowTable]
            func table(for file: OneRosterFile) throws -> RosterRowTable? { tables[file] }
        }
        let shapeIssues = layout.shapeIssues
        let pulledOrgs = try XCTUnwrap(layout.take(.orgs)), pulledUsers = try XCTUnwrap(layout.take(.users))
        var locator = RecordLocator()
        locator.remember(pulledOrgs)
        locator.remember(pulledUsers)
        let bundle = try OneRosterBundleReader().read(
            version: .v1_1, modes: [.orgs: .bulk, .users: .bulk], sourceSystemName: nil,
            tables: Tables(tables: [.orgs: pulledOrgs.table, .users: pulledUsers.table]), visitor: nil)
        let issues = locator.relocate(bundle.report.issues) + shapeIssues
        XCTAssertEqual(bundle.users.map(\.sourcedId).sorted(), ["u-1", "u-3", "u-4"], "u-1 once; u-2 quarantined")
        XCTAssertEqual(bundle.users.first { $0.sourcedId == "u-3" }?.givenName, "Later", "the later modification wins")
        let missing = try XCTUnwrap(issues.first { $0.code == .missingRequiredValue })
        XCTAssertEqual(missing.location, .record(entity: "users", sourcedId: "u-2", page: 3))
        XCTAssertEqual(missing.column, "givenName")
        XCTAssertEqual(issues.first { $0.code == .malformedRecord && $0.sourcedId == "" }?.location,
                       .record(entity: "users", sourcedId: "", page: 4))
        XCTAssertEqual(issues.first { $0.code == .malformedRecord && $0.sourcedId == "u-4" }?.column, "givenName")
    }

    func testDemographicsArePulledWhenAskedForAndSkippedWithAWarningWhenNotPermitted() throws {
        let provider = try Provider(["--users", "30", "--classes", "4"])
        var config = provider.config()
        config.demographics = true
        let bundle = try read(provider.source(config))
        XCTAssertEqual(bundle.report.errorCount, 0, bundle.report.rendered(maxPerFile: 5))
        XCTAssertEqual(bundle.manifest.mode(of: .demographics), .bulk)
        XCTAssertEqual(bundle.demographics.count, 20)
        let first = try XCTUnwrap(bundle.demographics.first { $0.sourcedId == "s-1" })
        XCTAssertEqual(first.white, true, "a JSON boolean")
        XCTAssertEqual(first.asian, false, "a string")

        let refusing = try Provider(["--users", "30", "--classes", "4", "--fault", "forbidden@demographics:1:0"])
        let partial = try read(refusing.source({ var c = refusing.config(); c.demographics = true; return c }()))
        XCTAssertEqual(partial.manifest.mode(of: .demographics), .absent, "held demographics are left as they are")
        XCTAssertEqual(partial.users.count, 30)
        XCTAssertEqual(partial.enrollments.count, 4 + 26 * 2, "enrollments are pulled after demographics")
        let warning = try XCTUnwrap(partial.report.issues.first { $0.code == .fileNotRead })
        XCTAssertEqual(warning.severity, .warning)
        XCTAssertTrue(warning.message.contains("HTTP 403"), warning.message)

        // No students, so no demographics: an empty bulk collection is reported like an empty bulk file, never read
        // as "every record deleted".
        let teachersOnly = try Provider(["--users", "4", "--classes", "4"])
        let empty = try read(teachersOnly.source({ var c = teachersOnly.config(); c.demographics = true; return c }()))
        XCTAssertEqual(empty.manifest.mode(of: .demographics), .bulk)
        XCTAssertEqual(empty.report.issues.first { $0.code == .emptyFile }?.file, "demographics.csv")
    }

    // MARK: small parts

    func testEachEntityFindsItsOwnColumns() {
        XCTAssertEqual(RESTEntity.allCases.map(\.ordinal), Array(RESTEntity.allCases.indices))
        let layout = RESTBundleLayout(version: .v1_2)
        for entity in RESTEntity.allCases {
            XCTAssertEqual(layout.columns(entity).map(\.0), RESTBundleLayout.columns(entity, version: .v1_2).map(\.0), "\(entity)")
        }
    }

    func testLinkHeadersRetryAfterAndStatusPayloads() {
        XCTAssertEqual(OneRosterRESTClient.nextLink(#"<https://h/x?offset=10>; rel="next", <https://h/x?offset=90>; rel="last""#),
                       "https://h/x?offset=10")
        XCTAssertNil(OneRosterRESTClient.nextLink(#"<https://h/x?offset=90>; rel="last""#))
        XCTAssertEqual(OneRosterRESTClient.retryAfterSeconds("7"), 7)
        let now = Date(timeIntervalSince1970: 1_000_000_000)
        XCTAssertEqual(OneRosterRESTClient.retryAfterSeconds("Sun, 09 Sep 2001 01:47:00 GMT", now: now), 20)
        let bare = #"{"imsx_codeMajor":"failure","imsx_severity":"error","imsx_description":"No such user","imsx_CodeMinor":{"imsx_codeMinorField":[{"imsx_codeMinorFieldName":"TargetEndSystem","imsx_codeMinorFieldValue":"unknownobject"}]}}"#
        XCTAssertEqual(oneRosterStatusMessage(Data(bare.utf8)),
                       "the provider answered failure (unknownobject: the provider does not know this record or endpoint): No such user")
        let wrapped = #"{"statusInfoSet":[{"imsx_codeMajor":"failure","imsx_severity":"error"}]}"#
        XCTAssertEqual(oneRosterStatusMessage(Data(wrapped.utf8)), "the provider answered failure")
        XCTAssertNil(oneRosterStatusMessage(Data(#"{"users":[]}"#.utf8)))
    }

    func testTheConfigurationIsStoredWithoutTheSecretAndChecked() throws {
        let config = RESTSourceConfig(url: "https://or.example.com/", version: .v1_2, clientID: "c", secretEnv: "OR_SECRET",
                                      tokenURL: "https://or.example.com/token")
        XCTAssertEqual(RESTSourceConfig(stored: config.stored), config)
        XCTAssertNil(RESTSourceConfig(stored: "/srv/bundles/district.zip"))
        XCTAssertEqual(config.baseURL, "https://or.example.com/ims/oneroster/rostering/v1p2")
        XCTAssertNoThrow(try config.validate())
        var noToken = config
        noToken.tokenURL = nil
        XCTAssertThrowsError(try noToken.validate())
        XCTAssertThrowsError(try config.secret(environment: [:])) { error in
            XCTAssertTrue("\(error)".contains("OR_SECRET"))
        }
        XCTAssertEqual(try config.secret(environment: ["OR_SECRET": "x"]), "x")
        let file = NSTemporaryDirectory() + "secret-\(UUID().uuidString)"
        try "  from-a-file\n".write(toFile: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: file) }
        var fromFile = config
        fromFile.secretEnv = nil
        fromFile.secretFile = file
        XCTAssertEqual(try fromFile.secret(environment: [:]), "from-a-file")
        XCTAssertFalse(fromFile.stored.contains("from-a-file"))
    }
}
