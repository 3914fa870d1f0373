/// Finds YAML anchors (`&name`) and aliases (`*name`) in a definition's text before it is parsed.
///
/// Workflow definitions never need them, and they are how a small file expands into an enormous tree (a "billion
/// laughs" file, or aliases fanned out so that one mistake is reported hundreds of thousands of times). A definition
/// that uses one is refused with its line, before anything is expanded.
enum AliasScanner {
    static func scan(_ text: String, file: String) -> [WorkflowProblem] {
        var problems: [WorkflowProblem] = []
        for (index, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            guard let (sigil, name) = firstAnchorOrAlias(in: Array(rawLine.utf8)) else { continue }
            problems.append(WorkflowProblem(
                .yamlAlias, at: .init(file: file, line: index + 1),
                "YAML \(sigil == UInt8(ascii: "&") ? "anchor" : "alias") '\(Character(UnicodeScalar(sigil)))\(name)': "
                    + "anchors and aliases are not allowed in workflow definitions; write each value out"))
            if problems.count >= 20 { break }
        }
        return problems
    }

    /// The first `&name` or `*name` where a YAML node may start on this line (line start, after `- `, `: `, `[`, `{`
    /// or `,`), outside quotes and comments.
    private static func firstAnchorOrAlias(in bytes: [UInt8]) -> (UInt8, String)? {
        var quote: UInt8?
        var nodeMayStart = true
        var i = 0
        while i < bytes.count {
            let byte = bytes[i]
            if let open = quote {
                if byte == open { quote = nil }
                i += 1
                continue
            }
            switch byte {
            case UInt8(ascii: "\""), UInt8(ascii: "'"):
                if nodeMayStart { quote = byte }
                nodeMayStart = false
            case UInt8(ascii: "#") where i == 0 || bytes[i - 1] == UInt8(ascii: " "):
                return nil
            case UInt8(ascii: " "), UInt8(ascii: "\t"):
                break
            case UInt8(ascii: "["), UInt8(ascii: "{"), UInt8(ascii: ","):
                nodeMayStart = true
            case UInt8(ascii: "-"), UInt8(ascii: ":"), UInt8(ascii: "?"):
                // `- item`, `key: value`, `? key`: a node may start after the indicator and a space.
                nodeMayStart = i + 1 == bytes.count || bytes[i + 1] == UInt8(ascii: " ")
            case UInt8(ascii: "&") where nodeMayStart, UInt8(ascii: "*") where nodeMayStart:
                var end = i + 1
                while end < bytes.count, ![UInt8(ascii: " "), UInt8(ascii: ","), UInt8(ascii: "]"), UInt8(ascii: "}")].contains(bytes[end]) {
                    end += 1
                }
                if end > i + 1 { return (byte, String(decoding: bytes[(i + 1)..<end], as: UTF8.self)) }
                nodeMayStart = false
            default:
                nodeMayStart = false
            }
            i += 1
        }
        return nil
    }
}
