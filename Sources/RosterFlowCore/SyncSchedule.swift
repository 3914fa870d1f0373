import Foundation

/// A school's preferred daily sync time in its own time zone.
public struct SyncSchedule: Sendable, Equatable, Codable {
    public var hour: Int
    public var minute: Int
    /// An IANA zone such as `America/Chicago`.
    public var timezone: String

    /// Parses `HH:MM` (24-hour) and an IANA zone name; abbreviations like `EST` or offsets are refused because they
    /// do not follow daylight-saving changes.
    public init(time: String, timezone: String) throws {
        let parts = time.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, parts[0].count == 2, parts[1].count == 2, let h = Int(parts[0]), let m = Int(parts[1]),
              (0...23).contains(h), (0...59).contains(m)
        else {
            throw RosterFlowError(.invalidInput, "'\(time)' is not a time of day; write it as HH:MM in 24-hour form, e.g. 02:30 or 19:00")
        }
        // IANA names are Area/Location (or UTC); bare abbreviations such as EST do not follow daylight saving.
        let zone = TimeZone(identifier: timezone)
        guard let zone, zone.identifier == timezone || timezone == "UTC", timezone.contains("/") || timezone == "UTC" else {
            let hint = TimeZone.knownTimeZoneIdentifiers.first { $0.lowercased() == timezone.lowercased() }
                ?? TimeZone.knownTimeZoneIdentifiers.first { $0.lowercased().hasSuffix("/" + timezone.lowercased()) }
            throw RosterFlowError(
                .invalidInput,
                "'\(timezone)' is not an IANA time zone; use a name like America/New_York or Europe/London"
                    + (hint.map { " (did you mean \($0)?)" } ?? ""))
        }
        self.hour = h
        self.minute = m
        self.timezone = timezone
    }

    /// `HH:MM`.
    public var timeText: String { String(format: "%02d:%02d", hour, minute) }

    /// The first instant strictly after `date` at which the local clock in the zone shows the chosen time.
    ///
    /// On a spring-forward day when the time does not exist (02:30 in America/New_York), the sync runs at the first
    /// valid time after the gap; on a fall-back day when it occurs twice, it runs at the first occurrence.
    public func nextRun(after date: Date) -> Date {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: timezone)!
        let components = DateComponents(hour: hour, minute: minute, second: 0)
        return calendar.nextDate(after: date, matching: components, matchingPolicy: .nextTime, repeatedTimePolicy: .first,
                                 direction: .forward) ?? date.addingTimeInterval(86_400)
    }
}
