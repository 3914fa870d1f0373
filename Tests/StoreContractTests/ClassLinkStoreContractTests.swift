import Foundation
import StorageCore
import XCTest

/// The store contract for Sign in with ClassLink: provider settings per integration, started sign-ins used once, and
/// person sessions by hash. Run against every backend in ``StoreConformers/all``.
final class ClassLinkStoreContractTests: StoreContractCase {
    func testProviderSettingsAreReplacedPerIntegration() throws {
        try forEachStore { store in
            try store.writeNow { tx in try StoreContractTests.seedIntegration(tx) }
            let first = SignInProviderRecord(
                integrationID: "int-1", provider: "classlink", issuer: "https://launchpad.classlink.com", clientID: "c1",
                secretEnv: "CL_SECRET", scopes: "openid profile", userInfoURL: nil, actor: "a", setAt: 1)
            try store.writeNow { try $0.upsertSignInProvider(first) }
            XCTAssertEqual(try store.readNow { try $0.signInProvider(integrationID: "int-1") }, first)
            var second = first
            second.clientID = "c2"
            second.userInfoURL = "https://nodeapi.classlink.com/v2/my/info"
            second.setAt = 2
            try store.writeNow { try $0.upsertSignInProvider(second) }
            XCTAssertEqual(try store.readNow { try $0.signInProviders() }, [second], "settings were added instead of replaced")
            XCTAssertNil(try store.readNow { try $0.signInProvider(integrationID: "int-2") })
        }
    }

    func testAStartedSignInIsUsedOnce() throws {
        try forEachStore { store in
            let request = SignInRequestRecord(
                stateHash: "sh-1", integrationID: "int-1", nonce: "n", codeVerifier: "v", createdAt: 1, expiresAt: 601)
            try store.writeNow { try $0.insertSignInRequest(request) }
            XCTAssertEqual(try store.readNow { try $0.signInRequest(stateHash: "sh-1") }, request)
            XCTAssertTrue(try store.writeNow { try $0.useSignInRequest(stateHash: "sh-1", at: 5) })
            XCTAssertFalse(try store.writeNow { try $0.useSignInRequest(stateHash: "sh-1", at: 6) }, "a state was used twice")
            XCTAssertFalse(try store.writeNow { try $0.useSignInRequest(stateHash: "sh-x", at: 6) }, "an unknown state was used")
            XCTAssertEqual(try store.readNow { try $0.signInRequest(stateHash: "sh-1") }?.usedAt, 5, "the first use was not kept")
        }
    }

    func testPersonSessionsAreFoundByHashTouchedForwardAndEnded() throws {
        try forEachStore { store in
            let session = PersonSessionRecord(
                idHash: "ph-1", integrationID: "int-1", sourcedID: "tch-1", role: "teacher", providerUserID: "9001", csrfToken: "c",
                createdAt: 1, lastSeenAt: 1, expiresAt: 99)
            try store.writeNow { try $0.insertPersonSession(session) }
            XCTAssertEqual(try store.readNow { try $0.personSession(hash: "ph-1") }, session)
            XCTAssertNil(try store.readNow { try $0.personSession(hash: "tch-1") }, "a session was found by something other than its hash")
            try store.writeNow { try $0.touchPersonSession(hash: "ph-1", at: 40) }
            try store.writeNow { try $0.touchPersonSession(hash: "ph-1", at: 30) }
            XCTAssertEqual(try store.readNow { try $0.personSession(hash: "ph-1") }?.lastSeenAt, 40, "a touch went back in time")
            try store.writeNow { try $0.deletePersonSession(hash: "ph-1") }
            XCTAssertNil(try store.readNow { try $0.personSession(hash: "ph-1") })
        }
    }
}
