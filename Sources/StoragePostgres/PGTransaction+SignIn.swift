import Foundation
import StorageCore

extension PGTransaction {
    func insertSignInLink(_ record: SignInLinkRecord) throws {
        throw PGTransaction.unported("SignInStore.insertSignInLink")
    }

    func signInLink(hash: String) throws -> SignInLinkRecord? {
        throw PGTransaction.unported("SignInStore.signInLink")
    }

    func markSignInLinkUsed(hash: String, at: Double) throws {
        throw PGTransaction.unported("SignInStore.markSignInLinkUsed")
    }

    func insertSession(_ record: SessionRecord) throws {
        throw PGTransaction.unported("SignInStore.insertSession")
    }

    func session(hash: String) throws -> SessionRecord? {
        throw PGTransaction.unported("SignInStore.session")
    }

    func touchSession(hash: String, at: Double) throws {
        throw PGTransaction.unported("SignInStore.touchSession")
    }

    func deleteSession(hash: String) throws {
        throw PGTransaction.unported("SignInStore.deleteSession")
    }

    func deleteSessions(accountID: String) throws {
        throw PGTransaction.unported("SignInStore.deleteSessions")
    }

    func recordSignInAttempt(key: String, at: Double) throws {
        throw PGTransaction.unported("SignInStore.recordSignInAttempt")
    }

    func signInAttempts(key: String, since: Double) throws -> [Double] {
        throw PGTransaction.unported("SignInStore.signInAttempts")
    }
}
