import Foundation

/// A JSON value as a provider sent it, with booleans, numbers and strings kept apart (so `true`, `"true"` and `1` can
/// each be read the way OneRoster means them).
public enum JSONValue: Sendable, Decodable, Equatable {
    case null
    case bool(Bool)
    /// A number, as the shortest text that reads back the same (`2024`, not `2024.0`).
    case number(String)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    /// Decodes any JSON value.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else if let value = try? container.decode(Int64.self) {
            self = .number(String(value))
        } else if let value = try? container.decode(Double.self) {
            self = .number(value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : String(value))
        } else if let value = try? container.decode([JSONValue].self) {
            self = .array(value)
        } else {
            self = .object(try container.decode([String: JSONValue].self))
        }
    }

    /// The value of a key of an object.
    public subscript(key: String) -> JSONValue? {
        if case .object(let object) = self { return object[key] }
        return nil
    }

    /// The text of a scalar: a string as is, `true`/`false`, a number's text; `nil` for null, arrays and objects.
    public var scalarText: String? {
        switch self {
        case .string(let text): text
        case .bool(let value): value ? "true" : "false"
        case .number(let text): text
        default: nil
        }
    }

    /// Compact JSON text (for values of an unexpected shape, shown in reports).
    public var jsonText: String {
        switch self {
        case .null: return "null"
        case .bool(let value): return value ? "true" : "false"
        case .number(let text): return text
        case .string(let text):
            let data = (try? JSONSerialization.data(withJSONObject: [text], options: [.fragmentsAllowed])) ?? Data()
            return String(String(decoding: data, as: UTF8.self).dropFirst().dropLast())
        case .array(let items): return "[" + items.map(\.jsonText).joined(separator: ",") + "]"
        case .object(let object):
            return "{" + object.keys.sorted().map { JSONValue.string($0).jsonText + ":" + object[$0]!.jsonText }
                .joined(separator: ",") + "}"
        }
    }
}
