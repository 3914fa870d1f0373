import Foundation
import StorageCore

/// One daily digest written to the outbox.
public struct DigestSent: Sendable, Codable, Equatable {
    public var integrationID: String
    /// `awaiting-verification` (to the school) or `verified-courses` (to the DSP).
    public var kind: String
    public var template: String
    public var recipient: String
    /// The recipient's local date the digest is for (YYYY-MM-DD).
    public var localDate: String
    public var courses: Int
}

extension RosterFlowService {
    /// The local hour (in the integration's own time zone) from which each day's digests are sent.
    public static let digestHour = 7

    /// The daily digests, per district, in place of one message per course: the school hears once a day which course
    /// mappings await its verification (from the first day, not only after the 3-day reminder), the DSP which verified
    /// courses await content. Each is written at most once per district and local day, from ``digestHour`` in the
    /// integration's time zone (the one the school gave with its sync time); a digest with no course is not sent.
    /// Safe to run from several workers at once.
    public func sendDueDigests() async throws -> [DigestSent] {
        try await write { tx, now in
            var sent: [DigestSent] = []
            // Only the courses a digest lists are read (one indexed query for the mapped and verified ones), grouped by
            // district: a pass costs what is pending, not every course of every district.
            let pending = try tx.instances(
                workflow: DomainVocabulary.CourseMapping.workflow,
                states: [DomainVocabulary.CourseMapping.State.mapped, DomainVocabulary.CourseMapping.State.verified])
            var byIntegration: [String: [(course: CourseRecord, state: String)]] = [:]
            for instance in pending {
                guard let course = try tx.course(id: instance.id) else { continue }
                byIntegration[course.integrationID, default: []].append((course, instance.state))
            }
            for integrationID in byIntegration.keys.sorted() {
                guard let integration = try tx.integration(id: integrationID), let zoneName = integration.timezone,
                      let zone = TimeZone(identifier: zoneName)
                else { continue }
                var calendar = Calendar(identifier: .gregorian)
                calendar.timeZone = zone
                let parts = calendar.dateComponents([.year, .month, .day, .hour], from: Date(timeIntervalSince1970: now))
                guard let hour = parts.hour, hour >= Self.digestHour, let year = parts.year, let month = parts.month, let day = parts.day
                else { continue }
                let localDate = String(format: "%04d-%02d-%02d", year, month, day)
                let courses = byIntegration[integrationID] ?? []
                for (kind, state, template, recipient) in [
                    ("awaiting-verification", DomainVocabulary.CourseMapping.State.mapped, "mappings-awaiting-verification", "school_contact"),
                    ("verified-courses", DomainVocabulary.CourseMapping.State.verified, "verified-courses", "dsp"),
                ] {
                    let listed = courses.filter { $0.state == state }.map(\.course)
                        .sorted { ($0.title, $0.sourcedID) < ($1.title, $1.sourcedID) }
                    guard !listed.isEmpty,
                          try tx.recordDigest(integrationID: integration.id, kind: kind, localDate: localDate, at: now)
                    else { continue }
                    guard let instance = try tx.instance(id: integration.id) else { continue }
                    var values = NotificationPayload.values(
                        instance: instance, course: nil, integration: integration, event: "digest", state: instance.state, from: nil,
                        reason: nil)
                    values.append(("course_count", String(listed.count)))
                    values.append(("digest_date", localDate))
                    values.append(("courses", listed.map { course in
                        "- \(course.title) (\(course.sourcedID))" + (course.catalogTitle.map { " → \($0)" } ?? "")
                            + (course.baseID.map { " [\($0)]" } ?? "")
                    }.joined(separator: "\n")))
                    try tx.insertOutbox(OutboxRecord(
                        id: Identifier.make(prefix: "msg", length: 12), instanceID: integration.id, transitionSeq: nil, channel: .email,
                        recipient: recipient, template: template, payload: JSONText.object(values), nextAttemptAt: now, createdAt: now))
                    sent.append(DigestSent(
                        integrationID: integration.id, kind: kind, template: template, recipient: recipient, localDate: localDate,
                        courses: listed.count))
                }
            }
            return sent
        }
    }
}
