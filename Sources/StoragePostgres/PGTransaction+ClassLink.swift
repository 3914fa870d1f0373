import Foundation
import StorageCore

extension PGTransaction {
    func upsertSignInProvider(_ record: SignInProviderRecord) throws {
        throw PGTransaction.unported("ClassLinkStore.upsertSignInProvider")
    }

    func signInProvider(integrationID: String) throws -> SignInProviderRecord? {
        throw PGTransaction.unported("ClassLinkStore.signInProvider")
    }

    func signInProviders() throws -> [SignInProviderRecord] {
        throw PGTransaction.unported("ClassLinkStore.signInProviders")
    }

    func insertSignInRequest(_ record: SignInRequestRecord) throws {
        throw PGTransaction.unported("ClassLinkStore.insertSignInRequest")
    }

    func signInRequest(stateHash: String) throws -> SignInRequestRecord? {
        throw PGTransaction.unported("ClassLinkStore.signInRequest")
    }

    func useSignInRequest(stateHash: String, at: Double) throws -> Bool {
        throw PGTransaction.unported("ClassLinkStore.useSignInRequest")
    }

    func insertPersonSession(_ record: PersonSessionRecord) throws {
        throw PGTransaction.unported("ClassLinkStore.insertPersonSession")
    }

    func personSession(hash: String) throws -> PersonSessionRecord? {
        throw PGTransaction.unported("ClassLinkStore.personSession")
    }

    func touchPersonSession(hash: String, at: Double) throws {
        throw PGTransaction.unported("ClassLinkStore.touchPersonSession")
    }

    func deletePersonSession(hash: String) throws {
        throw PGTransaction.unported("ClassLinkStore.deletePersonSession")
    }
}
