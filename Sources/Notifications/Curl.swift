import CCurl
import Foundation

/// One libcurl easy handle. Not thread-safe: each sending thread owns its own, and reuses it (and so its
/// connections) for every transfer it makes.
final class CurlEasy {
    let handle: UnsafeMutableRawPointer
    private var errorBuffer = [CChar](repeating: 0, count: Int(CURL_ERROR_SIZE) + 1)

    private static let globalInit: Bool = {
        curl_global_init(3 /* CURL_GLOBAL_ALL */) == CURLE_OK
    }()

    /// Whether libcurl's global state is set up (done once, on first use).
    static var initialised: Bool { globalInit }

    init() throws {
        guard Self.globalInit, let handle = curl_easy_init() else {
            throw NotificationError(.transport, "libcurl could not be initialised")
        }
        self.handle = handle
    }

    deinit {
        curl_easy_cleanup(handle)
    }

    /// What one transfer returned.
    struct Result {
        var code: CURLcode
        /// The HTTP status, or the last SMTP reply code.
        var responseCode: Int
        /// curl's error text, when `code` is not CURLE_OK.
        var error: String
        /// `Retry-After` response headers (HTTP), or server reply lines (SMTP), as received.
        var replies: [String]
        var body: Data
    }

    /// Per-transfer state the C callbacks reach through their user-data pointer.
    final class TransferState {
        var upload: Data
        var offset = 0
        var replies: [String] = []
        var body = Data()

        init(upload: Data) {
            self.upload = upload
        }
    }

    /// One SMTP transfer: resets the handle's options (keeping its connection), uploads `upload` to `recipients`
    /// with the options `configure` sets, and keeps the server's reply lines (they reach the debug callback only).
    func perform(upload: Data, recipients: [String], configure: (CurlEasy) -> Void) -> Result {
        curl_easy_reset(handle)
        let state = TransferState(upload: upload)
        let unmanaged = Unmanaged.passRetained(state)
        defer { unmanaged.release() }
        let userData = unmanaged.toOpaque()
        var recipientList: UnsafeMutablePointer<curl_slist>?
        for recipient in recipients { recipientList = curl_slist_append(recipientList, recipient) }
        defer { curl_slist_free_all(recipientList) }
        errorBuffer.withUnsafeMutableBufferPointer { buffer in
            buffer[0] = 0
            _ = rf_curl_setopt_pointer(handle, CURLOPT_ERRORBUFFER, buffer.baseAddress)
        }
        set(CURLOPT_NOSIGNAL, 1)
        _ = rf_curl_setopt_data_callback(handle, CURLOPT_WRITEFUNCTION, curlWrite)
        _ = rf_curl_setopt_pointer(handle, CURLOPT_WRITEDATA, userData)
        _ = rf_curl_setopt_data_callback(handle, CURLOPT_READFUNCTION, curlRead)
        _ = rf_curl_setopt_pointer(handle, CURLOPT_READDATA, userData)
        set(CURLOPT_VERBOSE, 1)
        _ = rf_curl_setopt_debug_callback(handle, curlDebug)
        _ = rf_curl_setopt_pointer(handle, CURLOPT_DEBUGDATA, userData)
        if let recipientList { _ = rf_curl_setopt_slist(handle, CURLOPT_MAIL_RCPT, recipientList) }
        configure(self)
        let code = curl_easy_perform(handle)
        var response = 0
        _ = rf_curl_getinfo_long(handle, CURLINFO_RESPONSE_CODE, &response)
        let error = code == CURLE_OK ? "" : errorBuffer.withUnsafeBufferPointer { buffer in
            let text = String(cString: buffer.baseAddress!)
            return text.isEmpty ? String(cString: curl_easy_strerror(code)) : text
        }
        return Result(code: code, responseCode: response, error: error, replies: state.replies, body: state.body)
    }

    func set(_ option: CURLoption, _ value: Int) {
        _ = rf_curl_setopt_long(handle, option, value)
    }

    func set(_ option: CURLoption, _ value: String) {
        // libcurl copies string options (since 7.17), so the temporary C string may go after the call.
        _ = value.withCString { rf_curl_setopt_string(handle, option, $0) }
    }
}

private func curlWrite(_ buffer: UnsafeMutablePointer<CChar>?, _ size: Int, _ count: Int, _ userData: UnsafeMutableRawPointer?) -> Int {
    guard let buffer, let userData else { return 0 }
    let state = Unmanaged<CurlEasy.TransferState>.fromOpaque(userData).takeUnretainedValue()
    let length = size * count
    if state.body.count < 65_536 {
        buffer.withMemoryRebound(to: UInt8.self, capacity: length) { state.body.append($0, count: min(length, 65_536 - state.body.count)) }
    }
    return length
}

private func curlHeader(_ buffer: UnsafeMutablePointer<CChar>?, _ size: Int, _ count: Int, _ userData: UnsafeMutableRawPointer?) -> Int {
    guard let buffer, let userData else { return 0 }
    let state = Unmanaged<CurlEasy.TransferState>.fromOpaque(userData).takeUnretainedValue()
    let length = size * count
    // HTTP (webhooks): only `Retry-After` is read (see CurlWebhookTransport.retryAfter), so only it is kept.
    let prefix = "retry-after:".utf8
    if length > prefix.count {
        let bytes = UnsafeRawBufferPointer(start: buffer, count: length)
        if zip(bytes, prefix).allSatisfy({ $0 | 0x20 == $1 || $0 == $1 }) {
            let line = String(decoding: bytes, as: UTF8.self)
            state.replies.append(line.trimmingCharacters(in: .whitespacesAndNewlines))
        }
    }
    return length
}

private func curlRead(_ buffer: UnsafeMutablePointer<CChar>?, _ size: Int, _ count: Int, _ userData: UnsafeMutableRawPointer?) -> Int {
    guard let buffer, let userData else { return 0 }
    let state = Unmanaged<CurlEasy.TransferState>.fromOpaque(userData).takeUnretainedValue()
    let length = min(size * count, state.upload.count - state.offset)
    guard length > 0 else { return 0 }
    state.upload.withUnsafeBytes { bytes in
        UnsafeMutableRawPointer(buffer).copyMemory(from: bytes.baseAddress! + state.offset, byteCount: length)
    }
    state.offset += length
    return length
}

private func curlDebug(
    _ handle: UnsafeMutableRawPointer?, _ type: curl_infotype, _ data: UnsafeMutablePointer<CChar>?, _ size: Int,
    _ userData: UnsafeMutableRawPointer?
) -> Int32 {
    guard type == CURLINFO_HEADER_IN, let data, let userData else { return 0 }
    let state = Unmanaged<CurlEasy.TransferState>.fromOpaque(userData).takeUnretainedValue()
    let text = data.withMemoryRebound(to: UInt8.self, capacity: size) {
        String(decoding: UnsafeBufferPointer(start: $0, count: size), as: UTF8.self)
    }
    for line in text.split(whereSeparator: { $0 == "\r" || $0 == "\n" }) where !line.isEmpty {
        if state.replies.count > 64 { state.replies.removeFirst() }
        state.replies.append(String(line))
    }
    return 0
}

/// Many HTTP transfers on one thread through one libcurl multi handle: at most `concurrencyPerHost` in flight to
/// each host, each on a connection the multi handle keeps open and reuses for the next transfer to that host.
/// Not thread-safe: one thread owns it.
final class CurlMulti {
    private let multi: UnsafeMutableRawPointer
    /// Easy handles not in a transfer, with their connections' state left in the multi handle's cache.
    private var idle: [Transfer] = []

    /// One reusable easy handle and the state of the transfer it carries.
    final class Transfer {
        let handle: UnsafeMutableRawPointer
        let state = CurlEasy.TransferState(upload: Data())
        let errorBuffer = UnsafeMutablePointer<CChar>.allocate(capacity: Int(CURL_ERROR_SIZE) + 1)
        var headerList: UnsafeMutablePointer<curl_slist>?
        var index = 0
        var host = ""

        init(handle: UnsafeMutableRawPointer) {
            self.handle = handle
            errorBuffer[0] = 0
            let userData = Unmanaged.passUnretained(state).toOpaque()
            _ = rf_curl_setopt_long(handle, CURLOPT_NOSIGNAL, 1)
            _ = rf_curl_setopt_pointer(handle, CURLOPT_ERRORBUFFER, errorBuffer)
            _ = rf_curl_setopt_data_callback(handle, CURLOPT_WRITEFUNCTION, curlWrite)
            _ = rf_curl_setopt_pointer(handle, CURLOPT_WRITEDATA, userData)
            _ = rf_curl_setopt_data_callback(handle, CURLOPT_HEADERFUNCTION, curlHeader)
            _ = rf_curl_setopt_pointer(handle, CURLOPT_HEADERDATA, userData)
            _ = rf_curl_setopt_long(handle, CURLOPT_FOLLOWLOCATION, 0)
        }

        deinit {
            curl_slist_free_all(headerList)
            curl_easy_cleanup(handle)
            errorBuffer.deallocate()
        }
    }

    init(maxConnectionsPerHost: Int) throws {
        guard CurlEasy.initialised, let multi = curl_multi_init() else {
            throw NotificationError(.transport, "libcurl could not be initialised")
        }
        self.multi = multi
        _ = rf_curl_multi_setopt_long(multi, CURLMOPT_MAX_HOST_CONNECTIONS, max(1, maxConnectionsPerHost))
        _ = rf_curl_multi_setopt_long(multi, CURLMOPT_MAXCONNECTS, max(16, maxConnectionsPerHost * 4))
    }

    deinit {
        idle.removeAll()
        curl_multi_cleanup(multi)
    }

    /// POSTs each request; returns each one's result, in order, nil for a request whose `mayStart` said no when its
    /// turn came (it was not sent). At most `concurrencyPerHost` requests to one host (scheme, host and port) are in
    /// flight at once; the others wait their turn (their timeout starts when they go).
    func post(_ requests: [WebhookRequest], concurrencyPerHost: Int) -> [CurlEasy.Result?] {
        let limit = max(1, concurrencyPerHost)
        var results = [CurlEasy.Result?](repeating: nil, count: requests.count)
        // Waiting requests per host, in order; hosts in order of first appearance.
        var hosts: [String] = []
        var waiting: [String: (items: [Int], next: Int, active: Int)] = [:]
        var keys: [String: String] = [:]
        for (index, request) in requests.enumerated() {
            let host = keys[request.url] ?? Self.hostKey(request.url)
            keys[request.url] = host
            if waiting[host] == nil {
                hosts.append(host)
                waiting[host] = ([], 0, 0)
            }
            waiting[host]!.items.append(index)
        }
        var running: [UInt: Transfer] = [:]
        var remaining = requests.count
        while remaining > 0 {
            for host in hosts {
                while let entry = waiting[host], entry.active < limit, entry.next < entry.items.count {
                    let index = entry.items[entry.next]
                    waiting[host]!.next += 1
                    if let mayStart = requests[index].mayStart, !mayStart() {
                        remaining -= 1
                        continue
                    }
                    waiting[host]!.active += 1
                    let transfer = start(requests[index], index: index, host: host)
                    running[UInt(bitPattern: transfer.handle)] = transfer
                }
            }
            var stillRunning: Int32 = 0
            _ = curl_multi_perform(multi, &stillRunning)
            var finishedAny = false
            var easy: UnsafeMutableRawPointer?
            var code = CURLE_OK
            while rf_curl_multi_next_done(multi, &easy, &code) == 1 {
                guard let easy, let transfer = running.removeValue(forKey: UInt(bitPattern: easy)) else { continue }
                results[transfer.index] = finish(transfer, code: code)
                waiting[transfer.host]!.active -= 1
                remaining -= 1
                finishedAny = true
            }
            if !finishedAny && remaining > 0 {
                _ = curl_multi_poll(multi, nil, 0, 100, nil)
            }
        }
        return results
    }

    private func start(_ request: WebhookRequest, index: Int, host: String) -> Transfer {
        let transfer: Transfer
        if let reused = idle.popLast() {
            transfer = reused
        } else {
            transfer = Transfer(handle: curl_easy_init())
        }
        transfer.index = index
        transfer.host = host
        transfer.errorBuffer[0] = 0
        transfer.state.replies.removeAll(keepingCapacity: true)
        transfer.state.body.removeAll(keepingCapacity: true)
        let handle = transfer.handle
        var list: UnsafeMutablePointer<curl_slist>?
        list = curl_slist_append(list, "Content-Type: application/json")
        list = curl_slist_append(list, "Expect:")
        for (name, value) in request.headers { list = curl_slist_append(list, "\(name): \(value)") }
        curl_slist_free_all(transfer.headerList)
        transfer.headerList = list
        _ = rf_curl_setopt_slist(handle, CURLOPT_HTTPHEADER, list)
        _ = request.url.withCString { rf_curl_setopt_string(handle, CURLOPT_URL, $0) }
        // The body goes out with the headers, in one write: libcurl copies it.
        _ = rf_curl_setopt_long(handle, CURLOPT_POSTFIELDSIZE, request.body.count)
        _ = request.body.withUnsafeBytes { bytes in
            rf_curl_setopt_pointer(handle, CURLOPT_COPYPOSTFIELDS, UnsafeMutableRawPointer(mutating: bytes.baseAddress ?? UnsafeRawPointer(bitPattern: 1)!))
        }
        _ = rf_curl_setopt_long(handle, CURLOPT_CONNECTTIMEOUT_MS, Int(min(request.timeoutSeconds, 10) * 1000))
        _ = rf_curl_setopt_long(handle, CURLOPT_TIMEOUT_MS, Int(request.timeoutSeconds * 1000))
        _ = curl_multi_add_handle(multi, handle)
        return transfer
    }

    private func finish(_ transfer: Transfer, code: CURLcode) -> CurlEasy.Result {
        _ = curl_multi_remove_handle(multi, transfer.handle)
        var response = 0
        _ = rf_curl_getinfo_long(transfer.handle, CURLINFO_RESPONSE_CODE, &response)
        let error = code == CURLE_OK ? "" : {
            let text = String(cString: transfer.errorBuffer)
            return text.isEmpty ? String(cString: curl_easy_strerror(code)) : text
        }()
        let result = CurlEasy.Result(
            code: code, responseCode: response, error: error, replies: transfer.state.replies, body: transfer.state.body)
        idle.append(transfer)
        return result
    }

    /// `scheme://host:port` of a URL: the unit the per-host limit counts.
    static func hostKey(_ url: String) -> String {
        guard let schemeEnd = url.range(of: "://") else { return url }
        let rest = url[schemeEnd.upperBound...]
        let end = rest.firstIndex { $0 == "/" || $0 == "?" || $0 == "#" } ?? rest.endIndex
        return String(url[..<end]).lowercased()
    }
}
