import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import Mustache
import NIOCore
import RosterFlowCore

/// The dashboard's HTML plumbing: the built-in templates, HTML responses with their security headers, cookies, forms
/// and the CSRF check.
enum Web {
    /// The session cookie (its value is a secret; only its hash is stored).
    static let sessionCookie = "rf_session"
    /// The CSRF cookie of forms shown before sign-in (double-submit: its value must come back in the form).
    static let preCookie = "rf_presession"

    /// The policy of HTML pages: nothing inline, nothing from elsewhere, no framing, forms only to this server.
    static let htmlPolicy = "default-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"

    /// The pages, parsed once from the templates built into the binary.
    static let library: MustacheLibrary = {
        var library = MustacheLibrary()
        let sources: [(String, [UInt8])] = [
            ("layout", PackageResources.layout_mustache), ("sign-in", PackageResources.sign_in_mustache),
            ("sign-in-confirm", PackageResources.sign_in_confirm_mustache), ("error", PackageResources.error_mustache),
            ("board", PackageResources.board_mustache), ("queue", PackageResources.queue_mustache),
            ("school", PackageResources.school_mustache), ("integration", PackageResources.integration_mustache),
            ("outbox", PackageResources.outbox_mustache), ("check", PackageResources.check_mustache),
            ("workflows", PackageResources.workflows_mustache), ("catalog", PackageResources.catalog_mustache),
            ("teacher", PackageResources.teacher_mustache), ("student", PackageResources.student_mustache),
            ("unlinked", PackageResources.unlinked_mustache), ("unlinked-person", PackageResources.unlinked_person_mustache),
            ("sign-in-restart", PackageResources.sign_in_restart_mustache),
        ]
        for (name, bytes) in sources {
            // The templates are part of the binary and tested; one that does not parse is a build defect.
            try! library.register(String(decoding: bytes, as: UTF8.self), named: name)
        }
        return library
    }()

    static let stylesheet = ByteBuffer(bytes: PackageResources.dashboard_css)

    /// A page: `template` rendered with `values` inside the layout.
    static func page(
        _ template: String, title: String, values: [String: Any], status: HTTPResponse.Status = .ok,
        principal: Principal? = nil, csrf: String? = nil, flash: [String: Any]? = nil, headers extra: HTTPFields = [:]
    ) -> Response {
        var values = values
        if let csrf { values["csrf"] = csrf }
        let content = library.render(values, withTemplate: template) ?? ""
        var layout: [String: Any] = ["title": title, "content": content]
        if let principal, let csrf {
            layout["account"] = [
                "name": principal.account.name, "roleLabel": principal.role.displayName, "csrf": csrf,
                "isVendorAdmin": principal.role == .vendorAdmin,
                "home": principal.role == .vendorAdmin ? "Board" : principal.role == .dsp ? "Queue" : "Onboarding",
            ] as [String: Any]
        }
        if let flash { layout["flash"] = flash }
        let html = library.render(layout, withTemplate: "layout") ?? ""
        var headers = extra
        headers[.contentType] = "text/html; charset=utf-8"
        headers[.contentSecurityPolicy] = htmlPolicy
        headers[.xContentTypeOptions] = "nosniff"
        headers[.referrerPolicy] = "no-referrer"
        headers[.cacheControl] = "no-store"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: html)))
    }

    /// 303 See Other to `location` (after a form POST).
    static func redirect(_ location: String, headers extra: HTTPFields = [:]) -> Response {
        var headers = extra
        headers[.location] = location
        headers[.referrerPolicy] = "no-referrer"
        headers[.cacheControl] = "no-store"
        return Response(status: .seeOther, headers: headers)
    }

    /// A `Set-Cookie` value: `HttpOnly`, `SameSite=Lax`, `Path=/`, and `Secure` when the public URL is https.
    static func cookie(_ name: String, _ value: String, maxAge: Int?, secure: Bool) -> String {
        var text = "\(name)=\(value); Path=/; HttpOnly; SameSite=Lax"
        if let maxAge { text += "; Max-Age=\(maxAge)" }
        if secure { text += "; Secure" }
        return text
    }

    static func cookieValue(_ request: Request, _ name: String) -> String? {
        guard let value = request.cookies[name]?.value, !value.isEmpty, value.utf8.count <= 128 else { return nil }
        return value
    }

    /// A random value for a cookie or a form (32 bytes, base64url).
    static func secret() -> String {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<32).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
        return Data(bytes).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    }

    /// Compares two secrets in time that does not depend on where they differ.
    static func same(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8), y = Array(b.utf8)
        guard x.count == y.count, !x.isEmpty else { return false }
        var difference: UInt8 = 0
        for index in x.indices { difference |= x[index] ^ y[index] }
        return difference == 0
    }

    // MARK: Forms

    /// The fields of an `application/x-www-form-urlencoded` body (the first value of each name).
    static func form(_ body: ByteBuffer) -> [String: String] {
        var fields: [String: String] = [:]
        let text = String(buffer: body)
        for pair in text.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            func decode(_ part: Substring) -> String {
                String(part).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? ""
            }
            let name = decode(parts[0])
            if fields[name] == nil { fields[name] = parts.count > 1 ? decode(parts[1]) : "" }
        }
        return fields
    }

    /// The parts of a `multipart/form-data` body: each field's name with its bytes (files and plain fields alike).
    static func multipart(_ body: ByteBuffer, contentType: String) -> [String: Data]? {
        guard let boundaryRange = contentType.range(of: "boundary=") else { return nil }
        var boundary = String(contentType[boundaryRange.upperBound...])
        if let semicolon = boundary.firstIndex(of: ";") { boundary = String(boundary[..<semicolon]) }
        boundary = boundary.trimmingCharacters(in: CharacterSet(charactersIn: "\" "))
        guard !boundary.isEmpty else { return nil }
        let data = Data(body.readableBytesView)
        let delimiter = Data("--\(boundary)".utf8)
        let headerEnd = Data("\r\n\r\n".utf8)
        var parts: [String: Data] = [:]
        var cursor = data.startIndex
        guard let first = data.range(of: delimiter, in: cursor..<data.endIndex) else { return nil }
        cursor = first.upperBound
        while let next = data.range(of: delimiter, in: cursor..<data.endIndex) {
            let part = data[cursor..<next.lowerBound]
            cursor = next.upperBound
            guard let split = part.range(of: headerEnd) else { continue }
            let headers = String(decoding: part[part.startIndex..<split.lowerBound], as: UTF8.self)
            var content = part[split.upperBound..<part.endIndex]
            if content.suffix(2) == Data("\r\n".utf8) { content = content.dropLast(2) }
            guard let nameRange = headers.range(of: "name=\"") else { continue }
            let rest = headers[nameRange.upperBound...]
            guard let close = rest.firstIndex(of: "\"") else { continue }
            let name = String(rest[..<close])
            if parts[name] == nil { parts[name] = Data(content) }
        }
        return parts
    }
}

/// A refusal the dashboard shows as a page: a CSRF token that does not match, too many sign-in attempts.
struct PageError: Error {
    var status: HTTPResponse.Status
    var code: String
    var cause: String
    var message: String
    var headers: HTTPFields = [:]
}
