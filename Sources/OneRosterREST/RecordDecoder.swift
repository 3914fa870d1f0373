import Foundation
import OneRoster

/// Decodes a page's JSON straight into the rows a bundle file would have (one value per CSV column), without a
/// ``JSONValue`` tree or a dictionary per record: the known keys of each entity are matched on their bytes, scalars and
/// GUIDRef objects are read in one pass, and only values of other shapes (lists, `metadata`, a 1.2 user's `roles`, a
/// value of an unexpected shape) are parsed into ``JSONValue`` and laid out by ``RESTBundleLayout``'s rules. The whole
/// page is still checked as strict JSON, so a cut-off page is told apart from a short one.
struct RecordDecoder: Sendable {
    /// How a key's value is read.
    enum KeyKind: Sendable {
        /// A single value.
        case scalar
        /// A GUIDRef object or a bare sourcedId.
        case reference
        /// Anything else: parsed into a ``JSONValue``.
        case tree
    }

    /// One entity's keys and columns.
    struct Plan: Sendable {
        let entity: RESTEntity
        let columns: [(String, FieldSource)]
        /// The known keys, as bytes and text, with how each is read.
        let keys: [[UInt8]]
        let keyTexts: [String]
        let kinds: [KeyKind]
        /// Per column: the slots of its keys (in order), for scalar and reference columns; empty for the others.
        let columnSlots: [[Int]]
        /// Whether any column (or the 1.2 roles) needs the tree-shaped values as an object.
        let needsTree: Bool
        let sourcedId: Int
        let status: Int
        let dateLastModified: Int
        let metadata: Int

        func slot(_ key: String) -> Int? { keyTexts.firstIndex(of: key) }
    }

    /// What one key of the record being decoded holds.
    enum Slot {
        case absent
        case null
        case text(String)
        case tree(JSONValue)
    }

    let version: RESTSourceConfig.Version
    let plans: [Plan]

    init(version: RESTSourceConfig.Version) {
        self.version = version
        plans = RESTEntity.allCases.map { Self.plan($0, version: version) }
    }

    func plan(_ entity: RESTEntity) -> Plan { plans[entity.ordinal] }

    static func plan(_ entity: RESTEntity, version: RESTSourceConfig.Version) -> Plan {
        let columns = RESTBundleLayout.columns(entity, version: version)
        var texts: [String] = []
        var kinds: [KeyKind] = []
        func use(_ key: String, _ kind: KeyKind) {
            if let at = texts.firstIndex(of: key) {
                if kinds[at] != kind { kinds[at] = .tree }
            } else {
                texts.append(key)
                kinds.append(kind)
            }
        }
        var treeColumns = false
        for (_, source) in columns {
            switch source {
            case .scalar(let keys): for key in keys { use(key, .scalar) }
            case .ref(let key): use(key, .reference)
            case .refs(let key), .list(let key): use(key, .tree); treeColumns = true
            case .userIds: use("userIds", .tree); treeColumns = true
            case .legacyRole: use("role", .tree); use("roles", .tree); treeColumns = true
            case .legacyOrgs: use("orgs", .tree); use("roles", .tree); treeColumns = true
            }
        }
        use("metadata", .tree)
        if entity == .users && version == .v1_2 {
            use("roles", .tree); use("role", .tree); use("orgs", .tree)
            treeColumns = true
        }
        let columnSlots = columns.map { _, source -> [Int] in
            switch source {
            case .scalar(let keys): keys.map { texts.firstIndex(of: $0)! }
            case .ref(let key): [texts.firstIndex(of: key)!]
            default: []
            }
        }
        return Plan(entity: entity, columns: columns, keys: texts.map { Array($0.utf8) }, keyTexts: texts, kinds: kinds,
                    columnSlots: columnSlots, needsTree: treeColumns,
                    sourcedId: texts.firstIndex(of: "sourcedId")!, status: texts.firstIndex(of: "status")!,
                    dateLastModified: texts.firstIndex(of: "dateLastModified")!, metadata: texts.firstIndex(of: "metadata")!)
    }

    /// A page's records of `entity` as rows, with the issues about their JSON shape, and how many items its list held.
    struct Page {
        var rows: [RESTBundleLayout.Row] = []
        var issues: [ValidationIssue] = []
        var count = 0
    }

    /// Decodes the page `body` of `entity` (page `number`): `nil` when it is a JSON object without the entity's list;
    /// throws ``JSONParser/Failure`` when it is not one complete JSON object (cut off on the way).
    func decode(page body: Data, entity: RESTEntity, number: Int) throws -> Page? {
        let plan = plan(entity)
        let listKey = Array(entity.key.utf8)
        return try body.withUnsafeBytes { raw -> Page? in
            var parser = JSONParser(bytes: raw.bindMemory(to: UInt8.self))
            var state = RecordState(decoder: self, plan: plan, number: number)
            var page: Page?
            parser.skipSpace()
            guard parser.index < parser.bytes.count, parser.bytes[parser.index] == UInt8(ascii: "{") else {
                throw parser.fail("not a JSON object")
            }
            parser.index += 1
            parser.skipSpace()
            if parser.index < parser.bytes.count, parser.bytes[parser.index] == UInt8(ascii: "}") {
                parser.index += 1
            } else {
                while true {
                    parser.skipSpace()
                    guard parser.index < parser.bytes.count, parser.bytes[parser.index] == UInt8(ascii: "\"") else {
                        throw parser.fail("expected a key")
                    }
                    let isList = try parser.keyEquals(listKey)
                    parser.skipSpace()
                    guard parser.index < parser.bytes.count, parser.bytes[parser.index] == UInt8(ascii: ":") else {
                        throw parser.fail("expected ':'")
                    }
                    parser.index += 1
                    parser.skipSpace()
                    if isList, parser.index < parser.bytes.count, parser.bytes[parser.index] == UInt8(ascii: "[") {
                        // A repeated list key: the last one counts, as in a parsed object.
                        state.page = Page()
                        try state.records(&parser)
                        page = state.page
                    } else {
                        if isList { page = nil }
                        try parser.skipValue(depth: 1)
                    }
                    parser.skipSpace()
                    guard parser.index < parser.bytes.count else { throw parser.fail("cut off") }
                    if parser.bytes[parser.index] == UInt8(ascii: ",") { parser.index += 1; continue }
                    if parser.bytes[parser.index] == UInt8(ascii: "}") { parser.index += 1; break }
                    throw parser.fail("expected ',' or '}'")
                }
            }
            parser.skipSpace()
            guard parser.index == parser.bytes.count else { throw parser.fail("text after the value") }
            return page
        }
    }

    /// Decodes one record given as a ``JSONValue`` (tests, and records of an unexpected shape).
    func decode(record: JSONValue, entity: RESTEntity, number: Int) -> Page {
        let text = record.jsonText
        // The same path as a page: the record inside a list.
        let body = Data(("{\"\(entity.key)\":[" + text + "]}").utf8)
        return (try? decode(page: body, entity: entity, number: number)) ?? Page()
    }
}

/// The decoding state of one page.
private struct RecordState {
    let decoder: RecordDecoder
    let plan: RecordDecoder.Plan
    let number: Int
    var page = RecordDecoder.Page()
    var slots: [RecordDecoder.Slot]

    init(decoder: RecordDecoder, plan: RecordDecoder.Plan, number: Int) {
        self.decoder = decoder
        self.plan = plan
        self.number = number
        slots = Array(repeating: .absent, count: plan.keys.count)
    }

    /// The list of records (the parser is at its `[`).
    mutating func records(_ parser: inout JSONParser) throws {
        parser.index += 1
        parser.skipSpace()
        if parser.index < parser.bytes.count, parser.bytes[parser.index] == UInt8(ascii: "]") { parser.index += 1; return }
        page.rows.reserveCapacity(1_024)
        while true {
            parser.skipSpace()
            page.count += 1
            if parser.index < parser.bytes.count, parser.bytes[parser.index] == UInt8(ascii: "{") {
                try record(&parser)
            } else {
                let value = try parser.value(depth: 2)
                let entity = plan.entity
                page.issues.append(ValidationIssue(
                    severity: .error, code: .malformedRecord, entity: entity.key, sourcedId: "", page: number,
                    value: value.jsonText,
                    message: "An item of the \(entity.key) list is not a JSON object, so it is not a record; it was not loaded.",
                    fix: "Ask the provider to send each \(entity.key) item as an object with a sourcedId."))
            }
            parser.skipSpace()
            guard parser.index < parser.bytes.count else { throw parser.fail("cut off") }
            if parser.bytes[parser.index] == UInt8(ascii: ",") { parser.index += 1; continue }
            if parser.bytes[parser.index] == UInt8(ascii: "]") { parser.index += 1; return }
            throw parser.fail("expected ',' or ']'")
        }
    }

    /// One record (the parser is at its `{`).
    mutating func record(_ parser: inout JSONParser) throws {
        for i in slots.indices { slots[i] = .absent }
        parser.index += 1
        parser.skipSpace()
        if parser.index < parser.bytes.count, parser.bytes[parser.index] == UInt8(ascii: "}") {
            parser.index += 1
        } else {
            while true {
                parser.skipSpace()
                guard parser.index < parser.bytes.count, parser.bytes[parser.index] == UInt8(ascii: "\"") else {
                    throw parser.fail("expected a key")
                }
                let slot = try parser.key(in: plan.keys, texts: plan.keyTexts)
                parser.skipSpace()
                guard parser.index < parser.bytes.count, parser.bytes[parser.index] == UInt8(ascii: ":") else {
                    throw parser.fail("expected ':'")
                }
                parser.index += 1
                parser.skipSpace()
                if slot < 0 {
                    try parser.skipValue(depth: 3)
                } else {
                    slots[slot] = try value(&parser, kind: plan.kinds[slot])
                }
                parser.skipSpace()
                guard parser.index < parser.bytes.count else { throw parser.fail("cut off") }
                if parser.bytes[parser.index] == UInt8(ascii: ",") { parser.index += 1; continue }
                if parser.bytes[parser.index] == UInt8(ascii: "}") { parser.index += 1; break }
                throw parser.fail("expected ',' or '}'")
            }
        }
        lay()
    }

    /// A known key's value.
    func value(_ parser: inout JSONParser, kind: RecordDecoder.KeyKind) throws -> RecordDecoder.Slot {
        guard parser.index < parser.bytes.count else { throw parser.fail("cut off") }
        if kind != .tree {
            switch parser.bytes[parser.index] {
            case UInt8(ascii: "\""): return .text(try parser.string())
            case UInt8(ascii: "t"): try parser.literal("true"); return .text("true")
            case UInt8(ascii: "f"): try parser.literal("false"); return .text("false")
            case UInt8(ascii: "n"): try parser.literal("null"); return .null
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return .text(try parser.number())
            case UInt8(ascii: "{") where kind == .reference:
                // A GUIDRef: its sourcedId, the rest checked and skipped.
                let start = parser.index
                if let id = try parser.guidRefSourcedId() { return .text(id) }
                parser.index = start
            default: break
            }
        }
        return .tree(try parser.value(depth: 3))
    }

    /// The record in `slots` as a row of the layout.
    mutating func lay() {
        let entity = plan.entity
        var sourcedId = ""
        switch slots[plan.sourcedId] {
        case .text(let text): sourcedId = text
        case .tree(let value): sourcedId = value.scalarText ?? ""
        default: break
        }
        var object: [String: JSONValue] = [:]
        if plan.needsTree {
            for (i, slot) in slots.enumerated() {
                switch slot {
                case .tree(let value): object[plan.keyTexts[i]] = value
                case .text(let text): if plan.kinds[i] == .tree { object[plan.keyTexts[i]] = .string(text) }
                case .null: if plan.kinds[i] == .tree { object[plan.keyTexts[i]] = .null }
                case .absent: break
                }
            }
        }
        var fields: [String] = []
        fields.reserveCapacity(plan.columns.count)
        for (c, (column, source)) in plan.columns.enumerated() {
            switch source {
            case .scalar:
                var text = ""
                for slot in plan.columnSlots[c] {
                    switch slots[slot] {
                    case .absent: continue
                    case .null: break
                    case .text(let value): text = value
                    case .tree(let value):
                        if value != .null {
                            text = value.scalarText ?? malformed(plan.keyTexts[slot], value, "a single value", sourcedId: sourcedId)
                        }
                    }
                    break
                }
                fields.append(text)
            case .ref:
                let slot = plan.columnSlots[c][0]
                switch slots[slot] {
                case .absent, .null: fields.append("")
                case .text(let value): fields.append(value)
                case .tree(let value):
                    fields.append(value == .null ? "" : RESTBundleLayout.reference(value)
                        ?? malformed(plan.keyTexts[slot], value, "a GUIDRef object with a sourcedId, or a sourcedId", sourcedId: sourcedId))
                }
            default:
                fields.append(RESTBundleLayout.value(source, of: object, column: column, entity: entity, sourcedId: sourcedId,
                                                     page: number, issues: &page.issues))
            }
        }
        var metadata: [String: String] = [:]
        if case .tree(.object(let extensions)) = slots[plan.metadata] {
            for (key, value) in extensions { metadata["metadata." + key] = value.scalarText ?? (value == .null ? "" : value.jsonText) }
        }
        var roles: [[String]] = []
        if entity == .users && decoder.version == .v1_2 {
            var full = object
            full["status"] = scalarValue(plan.status)
            full["dateLastModified"] = scalarValue(plan.dateLastModified)
            roles = RESTBundleLayout.roleRows(full, sourcedId: sourcedId)
        }
        var modified = ""
        switch slots[plan.dateLastModified] {
        case .text(let text): modified = text
        case .tree(let value): modified = value.scalarText ?? ""
        default: break
        }
        page.rows.append(RESTBundleLayout.Row(sourcedId: sourcedId, dateLastModified: modified, page: number, fields: fields,
                                              metadata: metadata, roles: roles))
    }

    func scalarValue(_ slot: Int) -> JSONValue? {
        switch slots[slot] {
        case .absent: nil
        case .null: .null
        case .text(let text): .string(text)
        case .tree(let value): value
        }
    }

    mutating func malformed(_ key: String, _ value: JSONValue, _ expected: String, sourcedId: String) -> String {
        RESTBundleLayout.malformed(key, value, expected, entity: plan.entity, sourcedId: sourcedId, page: number, issues: &page.issues)
    }
}

extension JSONParser {
    /// `sourcedId`, as bytes.
    static let sourcedIdKey = Array("sourcedId".utf8)

    /// Reads a key (the parser is at its opening quote) and answers whether it is `wanted`.
    mutating func keyEquals(_ wanted: [UInt8]) throws -> Bool {
        let start = index + 1
        if let end = plainStringEnd() {
            let length = end - start
            index = end + 1
            guard length == wanted.count else { return false }
            return wanted.withUnsafeBufferPointer { memcmp($0.baseAddress!, bytes.baseAddress! + start, length) == 0 }
        }
        return try string() == String(decoding: wanted, as: UTF8.self)
    }

    /// Reads a key (the parser is at its opening quote) and answers its index in `keys`, or -1.
    mutating func key(in keys: [[UInt8]], texts: [String]) throws -> Int {
        let start = index + 1
        if let end = plainStringEnd() {
            let length = end - start
            index = end + 1
            let base = bytes.baseAddress! + start
            for (i, key) in keys.enumerated() where key.count == length {
                if key.withUnsafeBufferPointer({ memcmp($0.baseAddress!, base, length) == 0 }) { return i }
            }
            return -1
        }
        let text = try string()
        return texts.firstIndex(of: text) ?? -1
    }

    /// Where the string starting at `index` (its opening quote) ends, when it has no escapes and no control
    /// characters; `nil` otherwise (the caller then reads it with ``string()``). Does not move.
    func plainStringEnd() -> Int? {
        var i = index + 1
        while i < bytes.count {
            let byte = bytes[i]
            if byte == UInt8(ascii: "\"") { return i }
            if byte == UInt8(ascii: "\\") || byte < 0x20 { return nil }
            i += 1
        }
        return nil
    }

    /// The sourcedId of the GUIDRef object at `index` when it is a string, every other value of the object checked
    /// and skipped; `nil` (the position then undefined) when the object has no string sourcedId.
    mutating func guidRefSourcedId() throws -> String? {
        index += 1
        skipSpace()
        var id: String?
        if index < bytes.count, bytes[index] == UInt8(ascii: "}") { index += 1; return nil }
        while true {
            skipSpace()
            guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { throw fail("expected a key") }
            let isID = try keyEquals(JSONParser.sourcedIdKey)
            skipSpace()
            guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else { throw fail("expected ':'") }
            index += 1
            skipSpace()
            if isID {
                guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { return nil }
                id = try string()
            } else {
                try skipValue(depth: 4)
            }
            skipSpace()
            guard index < bytes.count else { throw fail("cut off") }
            if bytes[index] == UInt8(ascii: ",") { index += 1; continue }
            if bytes[index] == UInt8(ascii: "}") { index += 1; return id }
            throw fail("expected ',' or '}'")
        }
    }

    /// Checks the value at `index` as strict JSON and moves past it without building it.
    mutating func skipValue(depth: Int) throws {
        guard depth < 512 else { throw fail("nested too deeply") }
        guard index < bytes.count else { throw fail("cut off") }
        switch bytes[index] {
        case UInt8(ascii: "{"):
            index += 1
            skipSpace()
            if index < bytes.count, bytes[index] == UInt8(ascii: "}") { index += 1; return }
            while true {
                skipSpace()
                guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { throw fail("expected a key") }
                try skipString()
                skipSpace()
                guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else { throw fail("expected ':'") }
                index += 1
                skipSpace()
                try skipValue(depth: depth + 1)
                skipSpace()
                guard index < bytes.count else { throw fail("cut off") }
                if bytes[index] == UInt8(ascii: ",") { index += 1; continue }
                if bytes[index] == UInt8(ascii: "}") { index += 1; return }
                throw fail("expected ',' or '}'")
            }
        case UInt8(ascii: "["):
            index += 1
            skipSpace()
            if index < bytes.count, bytes[index] == UInt8(ascii: "]") { index += 1; return }
            while true {
                skipSpace()
                try skipValue(depth: depth + 1)
                skipSpace()
                guard index < bytes.count else { throw fail("cut off") }
                if bytes[index] == UInt8(ascii: ",") { index += 1; continue }
                if bytes[index] == UInt8(ascii: "]") { index += 1; return }
                throw fail("expected ',' or ']'")
            }
        case UInt8(ascii: "\""):
            try skipString()
        case UInt8(ascii: "t"):
            try literal("true")
        case UInt8(ascii: "f"):
            try literal("false")
        case UInt8(ascii: "n"):
            try literal("null")
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            _ = try number()
        default:
            throw fail("unexpected character")
        }
    }

    /// Checks the string at `index` (its opening quote) and moves past it.
    mutating func skipString() throws {
        if let end = plainStringEnd() {
            index = end + 1
            return
        }
        _ = try string()
    }
}
