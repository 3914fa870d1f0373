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
        /// Response headers (HTTP) or server reply lines (SMTP), as received.
        var replies: [String]
        var body: Data
    }

    /// Per-transfer state the C callbacks reach through their user-data pointer.
    final class TransferState {
        var upload: Data
        var offset = 0
        var replies: [String] = []
        var body = Data()
        /// SMTP: replies come through the debug callback, and the header callback is ignored.
        var collectsReplies: Bool

        init(upload: Data, collectsReplies: Bool) {
            self.upload = upload
            self.collectsReplies = collectsReplies
        }
    }

    /// Resets the handle's options (keeping its connections), lets `configure` set this transfer's, and performs it.
    func perform(upload: Data, smtp: Bool, headers: [String] = [], recipients: [String] = [], configure: (CurlEasy) -> Void)
        -> Result
    {
        curl_easy_reset(handle)
        let state = TransferState(upload: upload, collectsReplies: smtp)
        let unmanaged = Unmanaged.passRetained(state)
        defer { unmanaged.release() }
        let userData = unmanaged.toOpaque()
        var headerList: UnsafeMutablePointer<curl_slist>?
        for header in headers { headerList = curl_slist_append(headerList, header) }
        var recipientList: UnsafeMutablePointer<curl_slist>?
        for recipient in recipients { recipientList = curl_slist_append(recipientList, recipient) }
        defer {
            curl_slist_free_all(headerList)
            curl_slist_free_all(recipientList)
        }
        errorBuffer.withUnsafeMutableBufferPointer { buffer in
            buffer[0] = 0
            _ = rf_curl_setopt_pointer(handle, CURLOPT_ERRORBUFFER, buffer.baseAddress)
        }
        set(CURLOPT_NOSIGNAL, 1)
        _ = rf_curl_setopt_data_callback(handle, CURLOPT_WRITEFUNCTION, curlWrite)
        _ = rf_curl_setopt_pointer(handle, CURLOPT_WRITEDATA, userData)
        _ = rf_curl_setopt_data_callback(handle, CURLOPT_HEADERFUNCTION, curlHeader)
        _ = rf_curl_setopt_pointer(handle, CURLOPT_HEADERDATA, userData)
        _ = rf_curl_setopt_data_callback(handle, CURLOPT_READFUNCTION, curlRead)
        _ = rf_curl_setopt_pointer(handle, CURLOPT_READDATA, userData)
        if smtp {
            // SMTP replies reach the debug callback only.
            set(CURLOPT_VERBOSE, 1)
            _ = rf_curl_setopt_debug_callback(handle, curlDebug)
            _ = rf_curl_setopt_pointer(handle, CURLOPT_DEBUGDATA, userData)
        }
        if let headerList { _ = rf_curl_setopt_slist(handle, CURLOPT_HTTPHEADER, headerList) }
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
    if !state.collectsReplies {
        let line = buffer.withMemoryRebound(to: UInt8.self, capacity: length) {
            String(decoding: UnsafeBufferPointer(start: $0, count: length), as: UTF8.self)
        }
        state.replies.append(line.trimmingCharacters(in: .whitespacesAndNewlines))
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
