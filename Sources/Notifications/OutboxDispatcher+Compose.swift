import Foundation
import StorageCore

// The message composer: what an outbox message becomes on each channel (the e-mail's addresses, Message-ID and MIME
// text; the webhook's JSON body), the same bytes on every attempt.
extension OutboxDispatcher {
    /// A payload's values: a flat JSON object of strings, else nil.
    static func flatValues(_ payload: String) -> [String: String]? {
        JSONText.flatStrings(payload) ?? (try? JSONSerialization.jsonObject(with: Data(payload.utf8)) as? [String: String])
    }

    /// The addresses a recipient role stands for: the integration's contact for `school_contact` and
    /// `district_admin`, the configured list for other roles, or the recipient itself when it is an address.
    public func addresses(for recipient: String, values: [String: String]) -> [String] {
        if MailAddress.isAddress(recipient) { return [recipient] }
        switch recipient {
        case "school_contact", "district_admin":
            return values["contact_email"].map { [$0] } ?? []
        default:
            return config.recipients[recipient] ?? []
        }
    }

    /// The Message-ID of a message's e-mail: its outbox id at the sender's domain.
    public func messageID(for outboxID: String) -> String {
        let domain = MailAddress.parse(config.from)?.address.split(separator: "@").last.map(String.init) ?? "rosterflow.local"
        return "\(outboxID)@\(domain)"
    }

    /// The composed e-mail for an outbox message, as it is sent (the same bytes on every attempt).
    public func composeMail(_ message: OutboxRecord, values: [String: String], to addresses: [String]) throws -> String {
        guard let template = templates[message.template] else {
            throw NotificationError(.template, "no template named '\(message.template)' in \(templates.folder)")
        }
        let sender = MailAddress.parse(config.from) ?? MailAddress(address: "rosterflow@localhost")
        var values = values
        let messageID = messageID(for: message.id)
        values["message_id"] = messageID
        values["recipient"] = message.recipient
        if var url = config.publicURL, !url.isEmpty {
            while url.hasSuffix("/") { url.removeLast() }
            values["public_url"] = url
        }
        return MIME.compose(
            template.render(values), from: sender, to: addresses.compactMap(MailAddress.parse), messageID: messageID,
            date: Date(timeIntervalSince1970: message.createdAt),
            extraHeaders: [("X-RosterFlow-Outbox-Id", message.id), ("X-RosterFlow-Template", message.template)])
    }

    /// The JSON body POSTed for an outbox message (keys sorted, so every attempt sends the same bytes).
    public static func webhookBody(_ message: OutboxRecord, values: [String: String]) -> Data {
        var json = JSONText()
        json.open()
        json.key("data")
        json.open()
        json.key("id"); json.string(message.id)
        json.key("instance_id"); json.string(message.instanceID)
        json.key("recipient"); json.string(message.recipient)
        json.key("template"); json.string(message.template)
        json.key("values")
        json.open()
        for key in values.keys.sorted() {
            json.key(key)
            json.string(values[key]!)
        }
        json.close()
        json.close()
        json.key("timestamp"); json.string(UTCTime(message.createdAt).iso8601)
        json.key("type"); json.string("rosterflow.notification.\(message.template)")
        json.close()
        return Data(json.bytes)
    }
}
