import Foundation
import StorageCore

extension PGTransaction {
    func insertAccount(_ record: AccountRecord) throws {
        throw PGTransaction.unported("AccessStore.insertAccount")
    }

    func account(id: String) throws -> AccountRecord? {
        throw PGTransaction.unported("AccessStore.account")
    }

    func account(email: String) throws -> AccountRecord? {
        throw PGTransaction.unported("AccessStore.account")
    }

    func accounts() throws -> [AccountRecord] {
        throw PGTransaction.unported("AccessStore.accounts")
    }

    func setAccountStatus(id: String, status: String, disabledAt: Double?) throws {
        throw PGTransaction.unported("AccessStore.setAccountStatus")
    }

    func insertToken(_ record: APITokenRecord) throws {
        throw PGTransaction.unported("AccessStore.insertToken")
    }

    func token(hash: String) throws -> APITokenRecord? {
        throw PGTransaction.unported("AccessStore.token")
    }

    func token(id: String) throws -> APITokenRecord? {
        throw PGTransaction.unported("AccessStore.token")
    }

    func tokens(accountID: String?) throws -> [APITokenRecord] {
        throw PGTransaction.unported("AccessStore.tokens")
    }

    func revokeToken(id: String, at: Double) throws {
        throw PGTransaction.unported("AccessStore.revokeToken")
    }

    func claimIdempotencyKey(_ record: IdempotencyRecord, abandonedBefore: Double) throws -> IdempotencyRecord? {
        throw PGTransaction.unported("AccessStore.claimIdempotencyKey")
    }

    func completeIdempotencyKey(accountID: String, key: String, status: Int, contentType: String?, body: Data) throws {
        throw PGTransaction.unported("AccessStore.completeIdempotencyKey")
    }

    func releaseIdempotencyKey(accountID: String, key: String) throws {
        throw PGTransaction.unported("AccessStore.releaseIdempotencyKey")
    }
}
