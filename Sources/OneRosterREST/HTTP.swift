import CCurl
import Foundation

/// One HTTP request of a OneRoster pull.
public struct HTTPRequest: Sendable {
    /// `GET` or `POST`.
    public var method: String
    /// The full URL, query included, exactly as sent.
    public var url: String
    /// Header lines as `(name, value)`.
    public var headers: [(String, String)]
    /// The request body (POST).
    public var body: Data?

    /// A request.
    public init(method: String, url: String, headers: [(String, String)] = [], body: Data? = nil) {
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
    }
}

/// What the server answered.
public struct HTTPResponse: Sendable {
    /// The HTTP status.
    public var status: Int
    /// Response headers, names in lower case (a repeated header keeps its last value, except `link`, whose values are
    /// joined with `, `).
    public var headers: [String: String]
    /// The body.
    public var body: Data

    /// A response.
    public init(status: Int, headers: [String: String], body: Data) {
        self.status = status
        self.headers = headers
        self.body = body
    }
}

/// Sends one HTTP request and waits for the answer (blocking). Implementations throw ``OneRosterRESTError`` with code
/// `unreachable` when no answer came (connection refused, timeout, TLS failure, body cut off).
public protocol HTTPTransport: Sendable {
    /// Sends `request`.
    func send(_ request: HTTPRequest) throws -> HTTPResponse
}

/// ``HTTPTransport`` over libcurl: one easy handle per calling thread (kept, so connections are reused), TLS
/// verified, no redirects followed, a connect timeout and an overall timeout per request.
public final class CurlHTTPTransport: HTTPTransport, @unchecked Sendable {
    /// Seconds to connect.
    public let connectTimeout: Int
    /// Seconds for a whole request.
    public let timeout: Int
    /// The largest body accepted (bytes); a larger one fails the request.
    public let maxBodyBytes: Int
    private let lock = NSLock()
    private var handles: [UnsafeMutableRawPointer] = []

    private static let globalInit: Bool = { curl_global_init(3 /* CURL_GLOBAL_ALL */) == CURLE_OK }()

    /// A transport with the given timeouts (seconds) and body cap.
    public init(connectTimeout: Int = 15, timeout: Int = 300, maxBodyBytes: Int = 512 << 20) {
        self.connectTimeout = connectTimeout
        self.timeout = timeout
        self.maxBodyBytes = maxBodyBytes
    }

    deinit {
        for handle in handles { curl_easy_cleanup(handle) }
    }

    private func takeHandle() throws -> UnsafeMutableRawPointer {
        lock.lock()
        defer { lock.unlock() }
        if let handle = handles.popLast() { return handle }
        guard Self.globalInit, let handle = curl_easy_init() else {
            throw OneRosterRESTError(.unreachable, "libcurl could not be initialised")
        }
        return handle
    }

    private func giveBack(_ handle: UnsafeMutableRawPointer) {
        lock.lock()
        handles.append(handle)
        lock.unlock()
    }

    /// Sends `request` through libcurl.
    public func send(_ request: HTTPRequest) throws -> HTTPResponse {
        let handle = try takeHandle()
        defer { giveBack(handle) }
        curl_easy_reset(handle)
        let state = HTTPTransferState(maxBody: maxBodyBytes)
        let unmanaged = Unmanaged.passRetained(state)
        defer { unmanaged.release() }
        let userData = unmanaged.toOpaque()
        let errorBuffer = UnsafeMutablePointer<CChar>.allocate(capacity: Int(CURL_ERROR_SIZE) + 1)
        defer { errorBuffer.deallocate() }
        errorBuffer[0] = 0
        var headerList: UnsafeMutablePointer<curl_slist>?
        for (name, value) in request.headers { headerList = curl_slist_append(headerList, "\(name): \(value)") }
        // No `Expect: 100-continue` round trip for a token request.
        headerList = curl_slist_append(headerList, "Expect:")
        defer { curl_slist_free_all(headerList) }
        _ = rf_curl_setopt_long(handle, CURLOPT_NOSIGNAL, 1)
        _ = rf_curl_setopt_pointer(handle, CURLOPT_ERRORBUFFER, errorBuffer)
        _ = request.url.withCString { rf_curl_setopt_string(handle, CURLOPT_URL, $0) }
        _ = rf_curl_setopt_data_callback(handle, CURLOPT_WRITEFUNCTION, httpWrite)
        _ = rf_curl_setopt_pointer(handle, CURLOPT_WRITEDATA, userData)
        _ = rf_curl_setopt_data_callback(handle, CURLOPT_HEADERFUNCTION, httpHeader)
        _ = rf_curl_setopt_pointer(handle, CURLOPT_HEADERDATA, userData)
        _ = rf_curl_setopt_long(handle, CURLOPT_FOLLOWLOCATION, 0)
        _ = rf_curl_setopt_long(handle, CURLOPT_CONNECTTIMEOUT, connectTimeout)
        _ = rf_curl_setopt_long(handle, CURLOPT_TIMEOUT, timeout)
        _ = "".withCString { rf_curl_setopt_string(handle, CURLOPT_ACCEPT_ENCODING, $0) }
        _ = rf_curl_setopt_slist(handle, CURLOPT_HTTPHEADER, headerList)
        let body = request.body ?? Data()
        if request.method == "POST" {
            _ = rf_curl_setopt_long(handle, CURLOPT_POST, 1)
            _ = rf_curl_setopt_off_t(handle, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(body.count))
        }
        let code: CURLcode = body.withUnsafeBytes { bytes in
            if request.method == "POST" {
                _ = rf_curl_setopt_pointer(handle, CURLOPT_POSTFIELDS, UnsafeMutableRawPointer(mutating: bytes.baseAddress))
            }
            return curl_easy_perform(handle)
        }
        if state.tooLarge {
            throw OneRosterRESTError(
                .badResponse, "the provider's answer to \(redacted(request.url)) is larger than \(maxBodyBytes >> 20) MiB; "
                    + "use a smaller page size")
        }
        guard code == CURLE_OK else {
            let text = String(cString: errorBuffer)
            let why = text.isEmpty ? String(cString: curl_easy_strerror(code)) : text
            throw OneRosterRESTError(.unreachable, "no answer from \(redacted(request.url)): \(why)")
        }
        var status = 0
        _ = rf_curl_getinfo_long(handle, CURLINFO_RESPONSE_CODE, &status)
        return HTTPResponse(status: status, headers: state.headers, body: state.body)
    }
}

/// The URL without its query (for messages: a query may be long, and never carries a secret, but the path is enough).
func redacted(_ url: String) -> String {
    guard let mark = url.firstIndex(of: "?") else { return url }
    return String(url[..<mark])
}

final class HTTPTransferState {
    var body = Data()
    var headers: [String: String] = [:]
    var tooLarge = false
    let maxBody: Int

    init(maxBody: Int) { self.maxBody = maxBody }
}

private func httpWrite(_ buffer: UnsafeMutablePointer<CChar>?, _ size: Int, _ count: Int, _ userData: UnsafeMutableRawPointer?) -> Int {
    guard let buffer, let userData else { return 0 }
    let state = Unmanaged<HTTPTransferState>.fromOpaque(userData).takeUnretainedValue()
    let length = size * count
    if state.body.count + length > state.maxBody {
        state.tooLarge = true
        return 0
    }
    buffer.withMemoryRebound(to: UInt8.self, capacity: length) { state.body.append($0, count: length) }
    return length
}

private func httpHeader(_ buffer: UnsafeMutablePointer<CChar>?, _ size: Int, _ count: Int, _ userData: UnsafeMutableRawPointer?) -> Int {
    guard let buffer, let userData else { return 0 }
    let state = Unmanaged<HTTPTransferState>.fromOpaque(userData).takeUnretainedValue()
    let length = size * count
    let line = String(decoding: UnsafeRawBufferPointer(start: buffer, count: length), as: UTF8.self)
    if line.hasPrefix("HTTP/") {
        // A new response (after a 100 Continue or a proxy's answer): its headers replace the earlier ones.
        state.headers = [:]
    } else if let colon = line.firstIndex(of: ":") {
        let name = line[..<colon].trimmingCharacters(in: .whitespaces).lowercased()
        let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespacesAndNewlines)
        if name == "link", let earlier = state.headers[name] {
            state.headers[name] = earlier + ", " + value
        } else {
            state.headers[name] = value
        }
    }
    return length
}
