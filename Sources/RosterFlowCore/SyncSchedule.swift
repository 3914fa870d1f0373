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
    public var timeText: String {
        (hour < 10 ? "0" : "") + String(hour) + (minute < 10 ? ":0" : ":") + String(minute)
    }

    /// The first instant strictly after `date` at which the local clock in the zone shows the chosen time.
    ///
    /// On a spring-forward day when the time does not exist (02:30 in America/New_York), the sync runs at the first
    /// valid time after the gap (the transition itself, 03:00); on a fall-back day when it occurs twice, it runs at the
    /// first occurrence only, even when asked between the two (a sync that ran at the first 01:30 is not run again at
    /// the second).
    ///
    /// Worked out from the zone's UTC offsets rather than with `Calendar.nextDate(after:matching:…)`, which takes
    /// about forty times as long (it is on every `schedule` event and every nightly run) and, asked between the two
    /// occurrences of a repeated time, answers the second one.
    public func nextRun(after date: Date) -> Date {
        let zone = TimeZone(identifier: timezone) ?? TimeZone(secondsFromGMT: 0)!
        func offset(_ instant: Double) -> Double { Double(zone.secondsFromGMT(for: Date(timeIntervalSince1970: instant))) }
        let now = date.timeIntervalSince1970
        let wallOfDay = Double(hour * 3_600 + minute * 60)
        // The local calendar day of `date`, as days since 1970-01-01 on the local clock.
        var day = ((now + offset(now)) / 86_400).rounded(.down)
        while true {
            let wall = day * 86_400 + wallOfDay
            let instant = Self.firstInstant(showing: wall, offset: offset, zone: zone)
            if instant > now {
                return Date(timeIntervalSince1970: instant)
            }
            day += 1
        }
    }

    /// The first instant whose local clock reads `wall` (seconds since 1970 on the local clock); in a gap, the
    /// transition that skips it. Zone offsets change at most once within a day on either side, so the offsets a day
    /// before and a day after give every candidate.
    private static func firstInstant(showing wall: Double, offset: (Double) -> Double, zone: TimeZone) -> Double {
        let earlier = wall - offset(wall - 86_400), later = wall - offset(wall + 86_400)
        let showing = [earlier, later].filter { offset($0) == wall - $0 }
        if let first = showing.min() { return first }
        let from = Date(timeIntervalSince1970: min(earlier, later))
        return zone.nextDaylightSavingTimeTransition(after: from)?.timeIntervalSince1970 ?? max(earlier, later)
    }
}
