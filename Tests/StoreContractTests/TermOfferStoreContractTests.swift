import Foundation
import StorageCore
import XCTest

/// The store contract for on-demand terms: held records keep `ref4` through a held change set and its apply, users are
/// found by login name and e-mail (any letter case) and enrollments by class and by user, inside one integration; a
/// next-term offer is recorded once per teacher and ended term, and answered. Run against every backend in
/// ``StoreConformers/all``.
final class TermOfferStoreContractTests: StoreContractCase {
    private func seed(_ tx: any StoreTransaction, _ id: String) throws {
        if try tx.customer(tenantID: "t-1") == nil {
            try tx.upsertCustomer(CustomerRecord(tenantID: "t-1", district: "District", contactEmail: "it@example.org", importedAt: 1))
        }
        try tx.insertInstance(InstanceRecord(id: id, workflow: "integration", version: 1, state: "live", subjectTitle: id, rowVersion: 1,
                                             createdAt: 1, enteredAt: 1, updatedAt: 1))
        try tx.insertIntegration(IntegrationRecord(id: id, tenantID: "t-1", district: "District", permission: "full",
                                                   contactEmail: "it@example.org", createdAt: 1))
        try tx.insertSyncRun(SyncRunRecord(id: "run-\(id)", integrationID: id, bundle: "b", startedAt: 1, finishedAt: 1, decision: .applied,
                                           reasons: "[]", counts: "{}", report: "{}", basedOnRun: nil))
    }

    private func user(_ id: String, username: String, email: String?, enabled: String? = "true") -> RosterChange {
        RosterChange(operation: .add, record: RosterRecord(entity: "users", sourcedID: id, digest: 1, ref1: username, ref2: email, title: id, ref4: enabled))
    }

    private func enrollment(_ id: String, cls: String, user: String, role: String) -> RosterChange {
        RosterChange(operation: .add, record: RosterRecord(entity: "enrollments", sourcedID: id, digest: 1, ref1: cls, ref2: user, ref3: role))
    }

    /// How an integration comes to need its enrollments found by class and user (SQLite keeps keys for those only).
    enum LookupUse: CaseIterable {
        /// Pre-provisioned, no sign-in: found all the same.
        case none
        /// On-demand before its first sync.
        case onDemandFirst
        /// Made on-demand after its roster was synced.
        case onDemandLater
        /// Sign in with ClassLink set up before the first sync.
        case signIn
    }

    private func use(_ tx: any StoreTransaction, _ use: LookupUse, _ id: String) throws {
        switch use {
        case .none: break
        case .onDemandFirst, .onDemandLater: try tx.setProvisioningMode(integrationID: id, mode: .onDemand, actor: "t", at: 1)
        case .signIn:
            try tx.upsertSignInProvider(SignInProviderRecord(
                integrationID: id, provider: "classlink", issuer: "https://launchpad.classlink.com", clientID: "c", secretEnv: "S",
                scopes: "openid", userInfoURL: nil, actor: "t", setAt: 1))
        }
    }

    func testUsersAreFoundByLoginNameAndEMailAndEnrollmentsByClassAndUserInsideOneIntegration() throws {
        for lookupUse in LookupUse.allCases {
            try usersAndEnrollmentsAreFound(lookupUse)
        }
    }

    private func usersAndEnrollmentsAreFound(_ lookupUse: LookupUse) throws {
        try forEachStore { store in
            try store.writeNow { tx in
                try seed(tx, "int-1")
                try seed(tx, "int-2")
                if lookupUse != .onDemandLater {
                    try use(tx, lookupUse, "int-1")
                    try use(tx, lookupUse, "int-2")
                }
                try tx.applyRosterChanges([
                    user("u-1", username: "ann", email: "Ann.Lee@School.example"),
                    user("u-2", username: "bob", email: "bob@school.example", enabled: "false"),
                    user("u-3", username: "ann2", email: "ann.lee@school.example"),
                    enrollment("e-2", cls: "c-1", user: "u-1", role: "student"),
                    enrollment("e-1", cls: "c-1", user: "u-2", role: "teacher"),
                    enrollment("e-3", cls: "c-2", user: "u-1", role: "student"),
                    // A class's id that is also a user's login name: entities never mix.
                    RosterChange(operation: .add, record: RosterRecord(entity: "classes", sourcedID: "c-1", digest: 1, ref1: "ann")),
                ], integrationID: "int-1", runID: "run-int-1", checkpoint: nil, now: 1)
                try tx.applyRosterChanges([user("u-9", username: "ann", email: "ann.lee@school.example"),
                                           enrollment("e-9", cls: "c-1", user: "u-1", role: "student")],
                                          integrationID: "int-2", runID: "run-int-2", checkpoint: nil, now: 1)
                if lookupUse == .onDemandLater { try use(tx, lookupUse, "int-1") }
            }
            try store.readNow { tx in
                XCTAssertEqual(try tx.rosterUsers(integrationID: "int-1", username: "ann").map(\.sourcedID), ["u-1"])
                XCTAssertEqual(try tx.rosterUsers(integrationID: "int-1", username: "ANN").map(\.sourcedID), [], "login names are exact")
                XCTAssertEqual(try tx.rosterUsers(integrationID: "int-1", email: "ANN.LEE@school.EXAMPLE").map(\.sourcedID), ["u-1", "u-3"])
                XCTAssertEqual(try tx.rosterUsers(integrationID: "int-2", email: "ann.lee@school.example").map(\.sourcedID), ["u-9"])
                XCTAssertEqual(try tx.rosterUsers(integrationID: "int-1", username: "bob").first?.ref4, "false", "ref4 is kept")
                XCTAssertEqual(try tx.rosterEnrollments(integrationID: "int-1", classSourcedID: "c-1").map(\.sourcedID), ["e-1", "e-2"],
                               "\(lookupUse)")
                XCTAssertEqual(try tx.rosterEnrollments(integrationID: "int-1", userSourcedID: "u-1").map(\.sourcedID), ["e-2", "e-3"],
                               "\(lookupUse)")
                XCTAssertEqual(try tx.rosterEnrollments(integrationID: "int-1", userSourcedID: "u-1").first?.ref3, "student")
                XCTAssertEqual(try tx.rosterEnrollments(integrationID: "int-2", userSourcedID: "u-1").map(\.sourcedID), ["e-9"])
                XCTAssertEqual(try tx.rosterEnrollments(integrationID: "int-2", userSourcedID: "u-2"), [])
            }
            // An update replaces ref4 (login name and e-mail kept) and moves an enrollment to another class; updates
            // change a login name and e-mail, or drop an e-mail; a delete removes the record from the lookups.
            try store.writeNow { tx in
                try tx.insertSyncRun(SyncRunRecord(id: "run-2", integrationID: "int-1", bundle: "b", startedAt: 2, finishedAt: 2, decision: .applied,
                                                   reasons: "[]", counts: "{}", report: "{}", basedOnRun: nil))
                try tx.applyRosterChanges([
                    RosterChange(operation: .update, record: RosterRecord(entity: "users", sourcedID: "u-2", digest: 2, ref1: "bob", ref2: "bob@school.example", ref4: "true")),
                    RosterChange(operation: .update, record: RosterRecord(entity: "users", sourcedID: "u-1", digest: 2, ref1: "anna", ref2: "Anna@School.example", title: "u-1")),
                    RosterChange(operation: .update, record: RosterRecord(entity: "users", sourcedID: "u-3", digest: 2, ref1: "ann2", ref2: nil, title: "u-3")),
                    RosterChange(operation: .delete, record: RosterRecord(entity: "enrollments", sourcedID: "e-2", digest: 1, ref1: "c-1", ref2: "u-1")),
                    RosterChange(operation: .update, record: RosterRecord(
                        entity: "enrollments", sourcedID: "e-3", digest: 2, ref1: "c-3", ref2: "u-1", ref3: "teacher")),
                ], integrationID: "int-1", runID: "run-2", checkpoint: nil, now: 2)
            }
            try store.readNow { tx in
                XCTAssertEqual(try tx.rosterUsers(integrationID: "int-1", username: "bob").first?.ref4, "true")
                XCTAssertEqual(try tx.rosterUsers(integrationID: "int-1", username: "bob").first?.digest, 2)
                XCTAssertEqual(try tx.rosterUsers(integrationID: "int-1", username: "ann").map(\.sourcedID), [], "renamed")
                XCTAssertEqual(try tx.rosterUsers(integrationID: "int-1", username: "anna").map(\.sourcedID), ["u-1"])
                XCTAssertEqual(try tx.rosterUsers(integrationID: "int-1", email: "anna@school.example").map(\.sourcedID), ["u-1"])
                XCTAssertEqual(try tx.rosterUsers(integrationID: "int-1", email: "ann.lee@school.example").map(\.sourcedID), [],
                               "one e-mail changed, the other dropped")
                XCTAssertEqual(try tx.rosterUsers(integrationID: "int-1", username: "ann2").map(\.ref2), [nil])
                XCTAssertEqual(try tx.rosterUsers(integrationID: "int-2", username: "ann").map(\.sourcedID), ["u-9"], "another district's")
                XCTAssertEqual(try tx.rosterEnrollments(integrationID: "int-1", classSourcedID: "c-1").map(\.sourcedID), ["e-1"], "\(lookupUse)")
                XCTAssertEqual(try tx.rosterEnrollments(integrationID: "int-1", classSourcedID: "c-2"), [], "\(lookupUse): moved away")
                XCTAssertEqual(try tx.rosterEnrollments(integrationID: "int-1", classSourcedID: "c-3").map(\.sourcedID), ["e-3"])
                XCTAssertEqual(try tx.rosterEnrollments(integrationID: "int-1", userSourcedID: "u-1").map(\.sourcedID), ["e-3"], "\(lookupUse)")
                XCTAssertEqual(try tx.rosterEnrollments(integrationID: "int-1", userSourcedID: "u-1").first?.ref3, "teacher")
                XCTAssertEqual(try tx.rosterEnrollments(integrationID: "int-2", classSourcedID: "c-1").map(\.sourcedID), ["e-9"])
                XCTAssertEqual(try tx.rosterRecords(integrationID: "int-1", entity: "users", sourcedIDs: ["u-2"]).first?.ref4, "true")
            }
        }
    }

    func testANextTermOfferIsRecordedOncePerTeacherAndEndedTermAndAnswered() throws {
        try forEachStore { store in
            let offer = NextTermOfferRecord(
                integrationID: "int-1", teacherSourcedID: "t-1", endedTermSourcedID: "fall", endedTerm: "Fall 2024",
                classes: [OfferedClassRecord(classSourcedID: "c-9", title: "Algebra – P3", endedClassSourcedID: "c-1")], createdAt: 10)
            try store.writeNow { tx in
                try seed(tx, "int-1")
                XCTAssertTrue(try tx.insertNextTermOffer(offer))
                var again = offer
                again.classes = []
                again.createdAt = 11
                XCTAssertFalse(try tx.insertNextTermOffer(again), "the same teacher and term: told once")
                var spring = offer
                spring.endedTermSourcedID = "spring"
                spring.createdAt = 20
                XCTAssertTrue(try tx.insertNextTermOffer(spring))
            }
            XCTAssertEqual(try store.readNow { try $0.nextTermOffers(integrationID: "int-1", teacherSourcedID: "t-1") }.map(\.endedTermSourcedID),
                           ["spring", "fall"], "newest first")
            XCTAssertEqual(try store.readNow { try $0.nextTermOffers(integrationID: "int-1", teacherSourcedID: "t-1") }.last, offer)
            XCTAssertEqual(try store.readNow { try $0.nextTermOffers(integrationID: "int-1", teacherSourcedID: "t-2") }, [])
            try store.writeNow { tx in
                try tx.decideNextTermOffer(integrationID: "int-1", teacherSourcedID: "t-1", endedTermSourcedID: "fall", status: "accepted",
                                           actor: "teacher:t-1", at: 30)
            }
            let decided = try store.readNow { try $0.nextTermOffers(integrationID: "int-1", teacherSourcedID: "t-1") }
            XCTAssertEqual(decided.map(\.status), ["open", "accepted"])
            XCTAssertEqual(decided.last?.decidedBy, "teacher:t-1")
            XCTAssertEqual(decided.last?.decidedAt, 30)
        }
    }
}
