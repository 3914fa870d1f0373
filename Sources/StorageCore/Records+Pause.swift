import Foundation

/// An integration paused until a date (`rosterflow integrations pause`).
public struct PauseRecord: Sendable, Equatable, Codable {
    public var integrationID: String
    /// The instant the pause ends (the start of `untilText` in the school's zone), seconds since 1970.
    public var pausedUntil: Double
    /// The date as given, `YYYY-MM-DD`.
    public var untilText: String
    public var reason: String?
    public var actor: String
    public var pausedAt: Double

    public init(integrationID: String, pausedUntil: Double, untilText: String, reason: String?, actor: String, pausedAt: Double) {
        self.integrationID = integrationID
        self.pausedUntil = pausedUntil
        self.untilText = untilText
        self.reason = reason
        self.actor = actor
        self.pausedAt = pausedAt
    }
}
