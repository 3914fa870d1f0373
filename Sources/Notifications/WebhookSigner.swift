import Crypto
import Foundation

/// Signs webhook requests per the Standard Webhooks convention.
///
/// The signature is `v1,<base64 HMAC-SHA256>` over `<webhook-id>.<webhook-timestamp>.<body>`, keyed with the
/// bytes of the subscriber's `whsec_<base64>` secret.
public struct WebhookSigner: Sendable {
    /// The secret's bytes (SymmetricKey is not Sendable, so the key is made per signature).
    private let keyBytes: Data

    /// - Throws: ``NotificationError/Code/configuration`` when the secret is not `whsec_` followed by base64.
    public init(secret: Secret) throws {
        var text = Substring(secret.reveal)
        if text.hasPrefix("whsec_") { text = text.dropFirst(6) }
        guard let bytes = Data(base64Encoded: String(text)), !bytes.isEmpty else {
            throw NotificationError(.configuration, "a webhook secret must be whsec_ followed by base64")
        }
        keyBytes = bytes
    }

    /// The `webhook-signature` header value.
    public func signature(id: String, timestamp: Int, body: Data) -> String {
        var mac = HMAC<SHA256>(key: SymmetricKey(data: keyBytes))
        mac.update(data: Data("\(id).\(timestamp).".utf8))
        mac.update(data: body)
        return "v1," + Data(mac.finalize()).base64EncodedString()
    }

    /// The three Standard Webhooks headers.
    public func headers(id: String, timestamp: Int, body: Data) -> [(String, String)] {
        [("webhook-id", id), ("webhook-timestamp", String(timestamp)),
         ("webhook-signature", signature(id: id, timestamp: timestamp, body: body))]
    }

    /// A signer for many requests in a row (one thread): the key is prepared once, not per signature.
    public func session() -> Session {
        Session(prototype: HMAC<SHA256>(key: SymmetricKey(data: keyBytes)))
    }

    /// Signs like ``WebhookSigner`` does, from a prepared key.
    public struct Session {
        fileprivate let prototype: HMAC<SHA256>

        public func signature(id: String, timestamp: Int, body: Data) -> String {
            var mac = prototype
            var prefix = id
            prefix += "."
            prefix += String(timestamp)
            prefix += "."
            prefix.withUTF8 { mac.update(data: UnsafeRawBufferPointer($0)) }
            mac.update(data: body)
            return "v1," + Data(mac.finalize()).base64EncodedString()
        }

        public func headers(id: String, timestamp: Int, body: Data) -> [(String, String)] {
            [("webhook-id", id), ("webhook-timestamp", String(timestamp)),
             ("webhook-signature", signature(id: id, timestamp: timestamp, body: body))]
        }
    }
}
