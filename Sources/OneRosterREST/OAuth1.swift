import Crypto
import Foundation

/// RFC 3986 percent-encoding as OAuth 1.0a (RFC 5849 §3.6) requires: every byte but the unreserved characters
/// (`A-Z a-z 0-9 - . _ ~`) becomes `%XX` with upper-case hex. The same encoding is used for query values on the wire,
/// so a `filter` value is encoded identically in the request and in its signature.
public func oauthPercentEncode(_ text: String) -> String {
    var out = ""
    out.reserveCapacity(text.utf8.count)
    let hex = Array("0123456789ABCDEF")
    for byte in text.utf8 {
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
             UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
            out.append(Character(Unicode.Scalar(byte)))
        default:
            out.append("%")
            out.append(hex[Int(byte >> 4)])
            out.append(hex[Int(byte & 0x0F)])
        }
    }
    return out
}

/// Decodes `%XX` escapes (and `+` as a space, as form encoding does) of one query component.
func queryDecode(_ text: Substring) -> String {
    var bytes: [UInt8] = []
    bytes.reserveCapacity(text.utf8.count)
    var iterator = Array(text.utf8)[...]
    while let byte = iterator.popFirst() {
        if byte == UInt8(ascii: "+") {
            bytes.append(UInt8(ascii: " "))
        } else if byte == UInt8(ascii: "%"), iterator.count >= 2,
                  let value = UInt8(String(decoding: iterator.prefix(2), as: UTF8.self), radix: 16) {
            bytes.append(value)
            iterator = iterator.dropFirst(2)
        } else {
            bytes.append(byte)
        }
    }
    return String(decoding: bytes, as: UTF8.self)
}

/// The query string of `pairs`, each name and value encoded with ``oauthPercentEncode(_:)``.
public func oauthQueryString(_ pairs: [(String, String)]) -> String {
    pairs.map { oauthPercentEncode($0.0) + "=" + oauthPercentEncode($0.1) }.joined(separator: "&")
}

/// Signs requests with OAuth 1.0a one-legged HMAC-SHA256, as ClassLink's OneRoster 1.1 servers verify them: the
/// query parameters are part of the signature base string, the key is the percent-encoded secret followed by `&` (no
/// token secret), and every request gets a fresh nonce and timestamp.
///
/// The secret is held only in memory; ``description`` never shows it.
public struct OAuth1Signer: Sendable, CustomStringConvertible {
    /// The consumer key (the OneRoster client id).
    public let clientID: String
    private let secret: String

    /// A signer for the client id and secret a district's OneRoster server issued.
    public init(clientID: String, secret: String) {
        self.clientID = clientID
        self.secret = secret
    }

    /// The client id only.
    public var description: String { "OAuth1Signer(clientID: \(clientID))" }

    /// The `Authorization` header value for `method` on `url` (its query parameters are signed), with a fresh nonce and
    /// the current time.
    public func authorization(method: String, url: String) -> String {
        authorization(method: method, url: url, nonce: Self.makeNonce(), timestamp: Int(Date().timeIntervalSince1970))
    }

    /// The `Authorization` header value with the given nonce and timestamp (for tests and known vectors).
    public func authorization(method: String, url: String, nonce: String, timestamp: Int) -> String {
        let oauth: [(String, String)] = [
            ("oauth_consumer_key", clientID), ("oauth_nonce", nonce), ("oauth_signature_method", "HMAC-SHA256"),
            ("oauth_timestamp", String(timestamp)), ("oauth_version", "1.0"),
        ]
        let signature = sign(method: method, url: url, oauthParameters: oauth)
        return "OAuth " + (oauth + [("oauth_signature", signature)])
            .map { "\($0.0)=\"\(oauthPercentEncode($0.1))\"" }.joined(separator: ", ")
    }

    /// The base64 HMAC-SHA256 signature of the request (RFC 5849 §3.4.1 base string).
    public func sign(method: String, url: String, oauthParameters: [(String, String)]) -> String {
        let base = Self.baseString(method: method, url: url, oauthParameters: oauthParameters)
        let key = SymmetricKey(data: Data((oauthPercentEncode(secret) + "&").utf8))
        let mac = HMAC<SHA256>.authenticationCode(for: Data(base.utf8), using: key)
        return Data(mac).base64EncodedString()
    }

    /// The signature base string: the method, the base URL (scheme and host in lower case, no default port, no query)
    /// and the sorted, encoded parameters (the URL's query parameters and the `oauth_*` ones but the signature).
    public static func baseString(method: String, url: String, oauthParameters: [(String, String)]) -> String {
        let (baseURL, query) = splitURL(url)
        var pairs = oauthParameters.map { (oauthPercentEncode($0.0), oauthPercentEncode($0.1)) }
        if let query, !query.isEmpty {
            for part in query.split(separator: "&", omittingEmptySubsequences: true) {
                let nameValue = part.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                let name = queryDecode(nameValue[0])
                let value = nameValue.count > 1 ? queryDecode(nameValue[1]) : ""
                pairs.append((oauthPercentEncode(name), oauthPercentEncode(value)))
            }
        }
        pairs.sort { $0.0 != $1.0 ? $0.0 < $1.0 : $0.1 < $1.1 }
        let normalized = pairs.map { $0.0 + "=" + $0.1 }.joined(separator: "&")
        return method.uppercased() + "&" + oauthPercentEncode(baseURL) + "&" + oauthPercentEncode(normalized)
    }

    /// The base string URL (RFC 5849 §3.4.1.2) and the raw query of `url`.
    static func splitURL(_ url: String) -> (String, String?) {
        var text = url
        if let hash = text.firstIndex(of: "#") { text = String(text[..<hash]) }
        var query: String?
        if let mark = text.firstIndex(of: "?") {
            query = String(text[text.index(after: mark)...])
            text = String(text[..<mark])
        }
        guard let schemeEnd = text.range(of: "://") else { return (text, query) }
        let scheme = text[..<schemeEnd.lowerBound].lowercased()
        let rest = text[schemeEnd.upperBound...]
        let slash = rest.firstIndex(of: "/") ?? rest.endIndex
        var authority = rest[..<slash].lowercased()
        let path = rest[slash...].isEmpty ? "/" : String(rest[slash...])
        if (scheme == "http" && authority.hasSuffix(":80")) || (scheme == "https" && authority.hasSuffix(":443")) {
            authority = String(authority[..<authority.lastIndex(of: ":")!])
        }
        return (scheme + "://" + authority + path, query)
    }

    /// 32 random alphanumeric characters.
    public static func makeNonce() -> String {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
        var generator = SystemRandomNumberGenerator()
        return String((0..<32).map { _ in alphabet[Int(generator.next(upperBound: UInt64(alphabet.count)))] })
    }
}
