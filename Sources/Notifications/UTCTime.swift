import Foundation

/// An instant's calendar fields in UTC, to the second (gmtime_r): the timestamps an e-mail's `Date` header and a
/// webhook body carry, written without a DateFormatter (building one cost more than composing the rest of a message).
struct UTCTime {
    private let fields: tm

    init(_ secondsSince1970: Double) {
        var time = time_t(secondsSince1970.rounded(.down))
        var fields = tm()
        gmtime_r(&time, &fields)
        self.fields = fields
    }

    /// `2026-11-24T05:50:55Z`, as ISO8601DateFormatter writes it by default.
    var iso8601: String {
        "\(fields.tm_year + 1900)-\(Self.two(fields.tm_mon + 1))-\(Self.two(fields.tm_mday))T\(clock)Z"
    }

    /// `Tue, 24 Nov 2026 03:28:02 +0000` (RFC 5322 section 3.3).
    var rfc5322: String {
        "\(Self.days[Int(fields.tm_wday)]), \(Self.two(fields.tm_mday)) \(Self.months[Int(fields.tm_mon)]) "
            + "\(fields.tm_year + 1900) \(clock) +0000"
    }

    /// `03:28:02`.
    private var clock: String {
        "\(Self.two(fields.tm_hour)):\(Self.two(fields.tm_min)):\(Self.two(fields.tm_sec))"
    }

    private static let days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
    private static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    private static func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
}
