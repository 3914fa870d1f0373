import Foundation
import RosterFlowCore
import StorageCore

/// A value the API writes as JSON by hand, byte for byte as ``Problems/encoder`` would (sorted keys, absent optionals
/// left out, slashes not escaped), without `Codable`'s generic machinery.
///
/// Only the answers that dominate the API's cost have it: a page of 50 integrations costs about 3 ms through
/// `JSONEncoder` on Linux, most of it in generic metadata lookups and boxing, and about 1/20 of that written here. A test
/// (`FastJSONTests`) compares the bytes with `JSONEncoder`'s for every field set, absent and awkward.
protocol FastJSONEncodable: Encodable {
    /// Writes the value's JSON, keys in the order `JSONEncoder`'s `.sortedKeys` gives.
    func writeJSON(to json: inout JSONBytes)
}

/// A JSON text being written: values, objects and arrays, with the commas between them placed by the writer.
struct JSONBytes {
    private(set) var bytes: [UInt8] = []
    /// Whether the next value or key in the current container follows another (and needs a comma).
    private var followsAnother = false

    init(capacity: Int = 1_024) {
        bytes.reserveCapacity(capacity)
    }

    // MARK: Containers

    mutating func object(_ body: (inout JSONBytes) -> Void) {
        separate()
        bytes.append(UInt8(ascii: "{"))
        followsAnother = false
        body(&self)
        bytes.append(UInt8(ascii: "}"))
        followsAnother = true
    }

    mutating func array<S: Sequence>(_ elements: S, _ element: (inout JSONBytes, S.Element) -> Void) {
        separate()
        bytes.append(UInt8(ascii: "["))
        followsAnother = false
        for value in elements { element(&self, value) }
        bytes.append(UInt8(ascii: "]"))
        followsAnother = true
    }

    /// A key of the current object; the value written next belongs to it.
    mutating func key(_ name: StaticString) {
        separate()
        bytes.append(UInt8(ascii: "\""))
        name.withUTF8Buffer { bytes.append(contentsOf: $0) }
        bytes.append(UInt8(ascii: "\""))
        bytes.append(UInt8(ascii: ":"))
        followsAnother = false
    }

    // MARK: Values

    mutating func string(_ value: String) {
        separate()
        JSONText.appendString(value, to: &bytes)
        followsAnother = true
    }

    mutating func int(_ value: Int) {
        separate()
        bytes.append(contentsOf: String(value).utf8)
        followsAnother = true
    }

    /// A number as `JSONEncoder` writes a `Double`: Swift's shortest form, without a trailing `.0`.
    mutating func double(_ value: Double) {
        separate()
        let text = value.description
        bytes.append(contentsOf: text.hasSuffix(".0") ? text.utf8.dropLast(2) : text.utf8.dropLast(0))
        followsAnother = true
    }

    // MARK: Fields

    /// `"name":"value"`, or nothing when `value` is nil (as `encodeIfPresent` does).
    mutating func field(_ name: StaticString, _ value: String?) {
        guard let value else { return }
        key(name)
        string(value)
    }

    mutating func field(_ name: StaticString, _ value: Int) {
        key(name)
        int(value)
    }

    mutating func field(_ name: StaticString, _ value: Double) {
        key(name)
        double(value)
    }

    mutating func field(_ name: StaticString, _ values: [String]?) {
        guard let values else { return }
        key(name)
        array(values) { $0.string($1) }
    }

    /// A field whose value is JSON text made elsewhere (a rare value with no hand-written form, by `JSONEncoder`).
    mutating func raw(_ name: StaticString, _ json: Data) {
        key(name)
        bytes.append(contentsOf: json)
        followsAnother = true
    }

    private mutating func separate() {
        if followsAnother { bytes.append(UInt8(ascii: ",")) }
    }
}

extension AllowedEvent: FastJSONEncodable {
    func writeJSON(to json: inout JSONBytes) {
        json.object { json in
            json.field("event", event)
            json.field("roles", roles)
        }
    }
}

extension AppliedStep: FastJSONEncodable {
    func writeJSON(to json: inout JSONBytes) {
        json.object { json in
            json.field("actor", actor)
            json.field("at", at)
            json.field("event", event)
            json.key("followUps")
            json.array(followUps) { $1.writeJSON(to: &$0) }
            json.field("from", from)
            json.field("instanceID", instanceID)
            json.field("reason", reason)
            json.field("role", role)
            json.field("rowVersion", rowVersion)
            json.field("to", to)
            json.field("workflow", workflow)
        }
    }
}

extension HistoryEntry: FastJSONEncodable {
    func writeJSON(to json: inout JSONBytes) {
        json.object { json in
            json.field("actor", actor)
            json.field("at", at)
            json.field("event", event)
            json.field("from", from)
            json.field("reason", reason)
            json.field("role", role)
            json.field("to", to)
        }
    }
}

extension IntegrationView: FastJSONEncodable {
    func writeJSON(to json: inout JSONBytes) {
        // The registry check (only on a single integration before it is authenticated) has no hand-written form.
        let registry = registryCheck.flatMap { try? Problems.encoder.encode($0) }
        json.object { json in
            json.key("allowedEvents")
            json.array(allowedEvents) { $1.writeJSON(to: &$0) }
            json.field("contactEmail", contactEmail)
            json.field("courseCount", courseCount)
            json.field("district", district)
            json.field("enteredStateAt", enteredStateAt)
            json.key("history")
            json.array(history) { $1.writeJSON(to: &$0) }
            json.field("id", id)
            json.field("nextSyncAt", nextSyncAt)
            json.field("pauseReason", pauseReason)
            json.field("pausedUntil", pausedUntil)
            json.field("permission", permission)
            json.field("provisioningMode", provisioningMode)
            if let registry { json.raw("registryCheck", registry) }
            json.field("rowVersion", rowVersion)
            json.field("state", state)
            json.field("syncTime", syncTime)
            json.field("tenantID", tenantID)
            json.field("timezone", timezone)
            json.field("warnings", warnings)
            json.field("workflowVersion", workflowVersion)
        }
    }
}

extension Paging.Page: FastJSONEncodable where Item: FastJSONEncodable {
    func writeJSON(to json: inout JSONBytes) {
        json.object { json in
            json.key("items")
            json.array(items) { $1.writeJSON(to: &$0) }
            json.field("nextCursor", nextCursor)
        }
    }
}
