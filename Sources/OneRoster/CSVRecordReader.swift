import CodedErrors
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Irregularities the CSV reader tolerated while reading one record.
///
/// None of them stops parsing; the bundle reader turns them into warnings.
public struct CSVRecordQuirks: OptionSet, Sendable, Hashable {
    /// The raw bits.
    public let rawValue: UInt8
    /// Creates a set from its raw bits.
    public init(rawValue: UInt8) { self.rawValue = rawValue }
    /// A quoted field contained a CR or LF (OneRoster forbids line breaks inside fields, RFC 4180 allows them).
    public static let lineBreakInField = CSVRecordQuirks(rawValue: 1)
    /// A double quote appeared inside an unquoted field, or text followed a closing quote; it was kept literally.
    public static let strayQuote = CSVRecordQuirks(rawValue: 2)
    /// The file ended inside a quoted field.
    public static let unterminatedQuote = CSVRecordQuirks(rawValue: 4)
    /// A field was longer than ``InputLimits/maxFieldBytes`` or the record longer than ``InputLimits/maxRowBytes``;
    /// only the bytes within the caps were kept.
    public static let tooLong = CSVRecordQuirks(rawValue: 8)
    /// The record had more than ``InputLimits/maxColumns`` fields; the rest were joined into the last one.
    public static let tooManyFields = CSVRecordQuirks(rawValue: 16)
    /// A field contains a NUL byte (kept; reported as a warning, since other tools may cut the value there).
    public static let nulByte = CSVRecordQuirks(rawValue: 32)
}

/// Errors thrown by ``CSVRecordReader``.
public struct CSVReadError: CodedError, Equatable {
    /// Stable codes.
    public enum Code: String, Sendable, Codable {
        /// The file could not be opened or read.
        case cannotRead = "cannot-read"
        /// A field is not valid UTF-8.
        case invalidUTF8 = "invalid-utf8"
        /// The path is a symbolic link, FIFO, device, socket or folder, not a regular file; it was not read.
        case notRegularFile = "not-a-regular-file"
        /// The bytes are not UTF-8: a UTF-16 or UTF-32 byte order mark, or NUL bytes where text should be.
        case unsupportedEncoding = "unsupported-encoding"
    }

    public var code: Code
    public var message: String
    /// What the file is (``Code/notRegularFile``) or its encoding (``Code/unsupportedEncoding``).
    public var detail: String?
    public var site: ThrowSite

    /// An error with a code and a plain message; the caller's file and line are its ``site``.
    public init(_ code: Code, _ message: String, detail: String? = nil, fileID: String = #fileID, fileLine: Int = #line) {
        self.code = code
        self.message = message
        self.detail = detail
        self.site = ThrowSite(fileID: fileID, line: fileLine)
    }

    /// The path is a symbolic link, FIFO, device, socket or folder (`kind`), not a regular file; it was not read.
    public static func notRegularFile(path: String, kind: String, fileID: String = #fileID, fileLine: Int = #line) -> Self {
        Self(.notRegularFile, "\(path) is \(kind), not a regular file; it was not read", detail: kind, fileID: fileID, fileLine: fileLine)
    }

    /// The bytes are not UTF-8 but `encoding`.
    public static func unsupportedEncoding(_ encoding: String, fileID: String = #fileID, fileLine: Int = #line) -> Self {
        Self(.unsupportedEncoding, "the file is \(encoding), not UTF-8", detail: encoding, fileID: fileID, fileLine: fileLine)
    }

    /// The file could not be opened or read.
    public static func cannotRead(path: String, reason: String, fileID: String = #fileID, fileLine: Int = #line) -> Self {
        Self(.cannotRead, "cannot read \(path): \(reason)", fileID: fileID, fileLine: fileLine)
    }

    /// A field is not valid UTF-8. `line` is the 1-based physical line where the record starts, `field` the 0-based
    /// field index.
    public static func invalidUTF8(line: Int, field: Int, fileID: String = #fileID, fileLine: Int = #line) -> Self {
        Self(.invalidUTF8, "line \(line): field \(field + 1) is not valid UTF-8", fileID: fileID, fileLine: fileLine)
    }
}

/// One parsed CSV record with its fields decoded as strings.
public struct CSVRecord: Sendable, Equatable {
    /// 1-based physical line number where the record starts.
    public var line: Int
    /// The fields, unquoted, with doubled quotes collapsed.
    public var fields: [String]
    /// Irregularities tolerated while parsing the record.
    public var quirks: CSVRecordQuirks
}

/// A fast, streaming RFC 4180 CSV reader working on raw bytes.
///
/// The reader pulls the input in chunks (1 MiB by default) and parses it byte by byte without creating
/// intermediate strings. Each call to ``next()`` makes the next record current; its fields can then be read
/// as raw bytes (``withField(_:_:)``) or as validated UTF-8 strings (``field(_:)``, ``fields()``).
///
/// Tolerated input: a UTF-8 byte order mark, CRLF, LF or lone CR line ends, no final newline, blank lines
/// (skipped, including trailing ones), quoted fields containing commas, doubled quotes and line breaks
/// (reported in ``quirks``), stray quotes (kept literally, reported in ``quirks``).
///
/// Refused input: a file that starts with a UTF-16 or UTF-32 byte order mark, or whose first 4 KiB are a quarter NUL
/// bytes (UTF-16 without a mark), throws ``CSVReadError/unsupportedEncoding(_:)`` on the first ``next()``; a path
/// that is a symbolic link or not a regular file throws ``CSVReadError/notRegularFile(path:kind:)`` when opened.
/// Fields, records and field counts beyond ``InputLimits`` are cut and reported in ``quirks``, so memory stays
/// bounded whatever the input.
///
/// ```swift
/// let reader = try CSVRecordReader(url: fileURL)
/// while try reader.next() {
///     print(reader.line, try reader.fields())
/// }
/// ```
public final class CSVRecordReader {
    @exclusivity(unchecked) private var core: Core

    /// Opens a file for streaming.
    /// - Parameters:
    ///   - url: A file URL.
    ///   - chunkSize: How many bytes to read from the file at a time.
    ///   - limits: Caps on field and record sizes and field counts.
    /// - Throws: ``CSVReadError/notRegularFile(path:kind:)`` for a symbolic link (never followed), FIFO, device or
    ///   folder; ``CSVReadError/cannotRead(path:reason:)`` when it cannot be opened.
    public init(url: URL, chunkSize: Int = 1 << 20, limits: InputLimits = .defaults) throws {
        // O_NOFOLLOW: a link is refused, not followed; O_NONBLOCK: opening a FIFO does not wait for a writer.
        let fd = open(url.path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else {
            let code = errno
            if code == ELOOP { throw CSVReadError.notRegularFile(path: url.path, kind: "a symbolic link") }
            throw CSVReadError.cannotRead(path: url.path, reason: String(cString: strerror(code)))
        }
        var st = stat()
        guard fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else {
            let kind = fstat(fd, &st) == 0 ? fileKind(st.st_mode) : "unreadable"
            _ = Glibc_close(fd)
            throw CSVReadError.notRegularFile(path: url.path, kind: kind)
        }
        _ = fcntl(fd, F_SETFL, O_RDONLY)
        core = Core(fd: fd, capacity: max(16, chunkSize), limits: limits)
    }

    /// Reads from bytes already in memory.
    public init<Bytes: Collection>(bytes: Bytes, limits: InputLimits = .defaults) where Bytes.Element == UInt8 {
        core = Core(bytes: Array(bytes), limits: limits)
    }

    /// Reads from a string's UTF-8 bytes (handy in tests).
    public convenience init(string: String) {
        self.init(bytes: Array(string.utf8))
    }

    deinit { core.close() }

    /// 1-based physical line on which the current record starts.
    public var line: Int { core.recordLine }

    /// Number of fields in the current record.
    public var fieldCount: Int { core.ends.count }

    /// Irregularities tolerated while parsing the current record.
    public var quirks: CSVRecordQuirks { core.quirks }

    /// Advances to the next record.
    /// - Returns: `false` at the end of the input.
    public func next() throws -> Bool {
        try core.next()
    }

    /// Calls `body` with the raw bytes of field `index` of the current record.
    public func withField<R>(_ index: Int, _ body: (UnsafeBufferPointer<UInt8>) throws -> R) rethrows -> R {
        let start = index == 0 ? 0 : core.ends[index - 1]
        let end = core.ends[index]
        return try core.storage.withUnsafeBufferPointer { all in
            try body(UnsafeBufferPointer(rebasing: all[start..<end]))
        }
    }

    /// Field `index` of the current record as a string.
    /// - Throws: ``CSVReadError/invalidUTF8(line:field:)`` if the bytes are not valid UTF-8.
    public func field(_ index: Int) throws -> String {
        let decoded: String? = withField(index) { decodeUTF8($0) }
        guard let decoded else { throw CSVReadError.invalidUTF8(line: core.recordLine, field: index) }
        return decoded
    }

    /// Field `index` as a string, or `nil` if it is not valid UTF-8.
    public func fieldIfValid(_ index: Int) -> String? {
        withField(index) { decodeUTF8($0) }
    }

    /// All fields of the current record as strings.
    /// - Throws: ``CSVReadError/invalidUTF8(line:field:)`` on the first field that is not valid UTF-8.
    public func fields() throws -> [String] {
        var out: [String] = []
        out.reserveCapacity(core.ends.count)
        for i in 0..<core.ends.count { out.append(try field(i)) }
        return out
    }

    /// Reads the next record and returns it as a value, or `nil` at the end of the input.
    public func nextRecord() throws -> CSVRecord? {
        guard try next() else { return nil }
        return CSVRecord(line: line, fields: try fields(), quirks: quirks)
    }

    /// Reads every remaining record.
    public func readAll() throws -> [CSVRecord] {
        var all: [CSVRecord] = []
        while let r = try nextRecord() { all.append(r) }
        return all
    }
}

/// Decodes UTF-8 bytes, returning `nil` when they are not valid.
@inline(__always)
func decodeUTF8(_ bytes: UnsafeBufferPointer<UInt8>) -> String? {
    // ASCII (the common case) cannot be invalid; `String(decoding:)` is specialized and fast.
    var ascii = true
    for b in bytes where b >= 0x80 { ascii = false; break }
    if ascii { return String(decoding: bytes, as: UTF8.self) }
    if #available(macOS 15, iOS 18, *) {
        return String(validating: bytes, as: UTF8.self)
    } else {
        return String(bytes: bytes, encoding: .utf8)
    }
}

private let COMMA: UInt8 = 0x2C
private let QUOTE: UInt8 = 0x22
private let LF: UInt8 = 0x0A
private let CR: UInt8 = 0x0D

extension CSVRecordReader {
    fileprivate enum State: UInt8 { case fieldStart, unquoted, quoted, quoteInQuoted }

    /// All parsing state lives in one struct so that the hot loop works on locals, not class properties.
    fileprivate struct Core {
        var fd: Int32
        var buffer: UnsafeMutablePointer<UInt8>
        var capacity: Int
        var count = 0
        var pos = 0
        var eof = false
        var atStart = true
        var pendingCR = false
        var line = 1
        var recordLine = 0
        var storage: [UInt8] = []
        var ends: [Int] = []
        var quirks: CSVRecordQuirks = []
        let maxField: Int
        let maxRecord: Int
        let maxFields: Int

        init(fd: Int32, capacity: Int, limits: InputLimits) {
            self.fd = fd
            self.capacity = capacity
            maxField = max(1, limits.maxFieldBytes)
            maxRecord = max(1, limits.maxRowBytes)
            maxFields = max(1, limits.maxColumns)
            buffer = .allocate(capacity: capacity)
            storage.reserveCapacity(1024)
            ends.reserveCapacity(32)
        }

        init(bytes: [UInt8], limits: InputLimits) {
            maxField = max(1, limits.maxFieldBytes)
            maxRecord = max(1, limits.maxRowBytes)
            maxFields = max(1, limits.maxColumns)
            fd = -1
            capacity = max(1, bytes.count)
            buffer = .allocate(capacity: capacity)
            bytes.withUnsafeBufferPointer { src in
                if let base = src.baseAddress { buffer.update(from: base, count: src.count) }
            }
            count = bytes.count
            eof = true
            storage.reserveCapacity(1024)
            ends.reserveCapacity(32)
        }

        mutating func close() {
            if fd >= 0 { _ = Glibc_close(fd); fd = -1 }
            buffer.deallocate()
        }

        /// At the start of the input: skips a UTF-8 byte order mark, refuses UTF-16 and UTF-32.
        mutating func start() throws {
            guard atStart else { return }
            atStart = false
            let b = buffer
            if count >= 3, b[0] == 0xEF, b[1] == 0xBB, b[2] == 0xBF { pos = 3; return }
            if count >= 4, b[0] == 0xFF, b[1] == 0xFE, b[2] == 0, b[3] == 0 { throw CSVReadError.unsupportedEncoding("UTF-32 (little-endian)") }
            if count >= 4, b[0] == 0, b[1] == 0, b[2] == 0xFE, b[3] == 0xFF { throw CSVReadError.unsupportedEncoding("UTF-32 (big-endian)") }
            if count >= 2, b[0] == 0xFF, b[1] == 0xFE { throw CSVReadError.unsupportedEncoding("UTF-16 (little-endian)") }
            if count >= 2, b[0] == 0xFE, b[1] == 0xFF { throw CSVReadError.unsupportedEncoding("UTF-16 (big-endian)") }
            // UTF-16 or UTF-32 without a mark: text in them is full of NUL bytes, which UTF-8 text never has.
            let sample = min(count, 4096)
            var nuls = 0
            for i in 0..<sample where b[i] == 0 { nuls += 1 }
            if sample > 0, nuls * 4 >= sample {
                throw CSVReadError.unsupportedEncoding("UTF-16 or UTF-32 (\(nuls) of its first \(sample) bytes are NUL)")
            }
        }

        /// Keeps the current field and record within the caps (called after bytes are appended).
        @inline(__always)
        mutating func checkCaps(_ quirks: inout CSVRecordQuirks) {
            let count = storage.count
            if count > maxRecord || count - (ends.last ?? 0) > maxField { clamp(&quirks) }
        }

        @inline(never)
        mutating func clamp(_ quirks: inout CSVRecordQuirks) {
            let allowed = min(maxRecord, (ends.last ?? 0) + maxField)
            if storage.count > allowed { storage.removeLast(storage.count - allowed) }
            quirks.insert(.tooLong)
        }

        /// Ends the current field, unless the record already has the most fields allowed (the rest then joins it).
        @inline(__always)
        mutating func endField(_ quirks: inout CSVRecordQuirks) {
            if ends.count + 1 < maxFields {
                ends.append(storage.count)
            } else {
                quirks.insert(.tooManyFields)
            }
        }

        /// Refills the buffer; returns `false` at end of input.
        mutating func refill() throws -> Bool {
            if eof || fd < 0 { return false }
            var filled = 0
            while filled < capacity {
                let n = read(fd, buffer + filled, capacity - filled)
                if n < 0 {
                    if errno == EINTR { continue }
                    throw CSVReadError.cannotRead(path: "fd \(fd)", reason: String(cString: strerror(errno)))
                }
                if n == 0 { eof = true; break }
                filled += n
            }
            count = filled
            pos = 0
            if atStart { try start() }
            return pos < count
        }

        mutating func next() throws -> Bool {
            storage.removeAll(keepingCapacity: true)
            ends.removeAll(keepingCapacity: true)
            var quirks: CSVRecordQuirks = []
            var state = State.fieldStart
            var started = false
            var sawQuote = false
            var line = self.line
            defer {
                self.line = line
                if !storage.isEmpty, storage.withUnsafeBytes({ memchr($0.baseAddress!, 0, $0.count) }) != nil {
                    quirks.insert(.nulByte)
                }
                self.quirks = quirks
            }
            if atStart && fd < 0 { try start() }
            outer: while true {
                if pos >= count {
                    if try !refill() {
                        guard started else { return false }
                        if state == .quoted { quirks.insert(.unterminatedQuote) }
                        ends.append(storage.count)
                        return true
                    }
                }
                let base = buffer
                var i = pos
                let n = count
                if pendingCR {
                    pendingCR = false
                    if base[i] == LF { i += 1; pos = i; continue outer }
                }
                if !started { started = true; recordLine = line }
                while i < n {
                    switch state {
                    case .fieldStart, .unquoted:
                        if state == .fieldStart && base[i] == QUOTE {
                            state = .quoted
                            sawQuote = true
                            i += 1
                            continue
                        }
                        state = .unquoted
                        let s = i
                        while i < n {
                            let c = base[i]
                            if c == COMMA || c == LF || c == CR || c == QUOTE { break }
                            i += 1
                        }
                        if i > s {
                            storage.append(contentsOf: UnsafeBufferPointer(start: base + s, count: i - s))
                            checkCaps(&quirks)
                        }
                        if i == n { break }
                        let c = base[i]
                        i += 1
                        if c == COMMA {
                            endField(&quirks)
                            state = .fieldStart
                        } else if c == QUOTE {
                            quirks.insert(.strayQuote)
                            storage.append(c)
                            checkCaps(&quirks)
                        } else {
                            line += 1
                            if c == CR { pendingCR = true }
                            pos = i
                            if ends.isEmpty && storage.isEmpty && !sawQuote {
                                // Blank line: skip it.
                                started = false
                                state = .fieldStart
                                quirks = []
                                continue outer
                            }
                            ends.append(storage.count)
                            return true
                        }
                    case .quoted:
                        let s = i
                        while i < n {
                            let c = base[i]
                            if c == QUOTE { break }
                            if c == LF { line += 1; quirks.insert(.lineBreakInField) } else if c == CR { quirks.insert(.lineBreakInField) }
                            i += 1
                        }
                        if i > s {
                            storage.append(contentsOf: UnsafeBufferPointer(start: base + s, count: i - s))
                            checkCaps(&quirks)
                        }
                        if i < n { state = .quoteInQuoted; i += 1 }
                    case .quoteInQuoted:
                        let c = base[i]
                        if c == QUOTE {
                            storage.append(QUOTE)
                            checkCaps(&quirks)
                            state = .quoted
                            i += 1
                        } else if c == COMMA {
                            endField(&quirks)
                            state = .fieldStart
                            i += 1
                        } else if c == LF || c == CR {
                            i += 1
                            line += 1
                            if c == CR { pendingCR = true }
                            pos = i
                            ends.append(storage.count)
                            return true
                        } else {
                            // Text after a closing quote: keep it literally.
                            quirks.insert(.strayQuote)
                            state = .unquoted
                        }
                    }
                }
                pos = i
            }
        }
    }
}

@inline(__always)
private func Glibc_close(_ fd: Int32) -> Int32 {
    close(fd)
}

/// What a file mode is, in words ("a FIFO", "a character device", …).
func fileKind(_ mode: mode_t) -> String {
    switch mode & S_IFMT {
    case S_IFREG: return "a regular file"
    case S_IFDIR: return "a folder"
    case S_IFLNK: return "a symbolic link"
    case S_IFIFO: return "a FIFO (named pipe)"
    case S_IFCHR: return "a character device"
    case S_IFBLK: return "a block device"
    case S_IFSOCK: return "a socket"
    default: return "a special file"
    }
}
