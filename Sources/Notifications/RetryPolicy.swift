import Foundation
import StorageCore

/// How failed attempts are retried: exponential backoff with jitter, then dead-lettered.
public struct RetryPolicy: Sendable, Equatable {
    /// The first retry's delay, before jitter.
    public var baseSeconds: Double = 30
    /// No retry waits longer than this (a `Retry-After` is capped to it too).
    public var maxSeconds: Double = 3_600
    /// Attempts before a delivery is dead-lettered.
    public var maxAttempts: Int = 8

    /// A policy with the given delays (in seconds) and attempt limit; by default 30 seconds, one hour and 8 attempts.
    public init(baseSeconds: Double = 30, maxSeconds: Double = 3_600, maxAttempts: Int = 8) {
        self.baseSeconds = baseSeconds
        self.maxSeconds = maxSeconds
        self.maxAttempts = maxAttempts
    }

    /// The delay before the attempt after `attempts` failed ones: `base × 2^(attempts-1)`, capped, with full jitter
    /// over its upper half; a server's `Retry-After` wins when it asks for longer.
    public func delay(afterAttempts attempts: Int, retryAfter: Double? = nil) -> Double {
        let exponent = Double(min(max(attempts - 1, 0), 30))
        let ceiling = min(maxSeconds, baseSeconds * pow(2, exponent))
        let jittered = ceiling / 2 + Double.random(in: 0...1) * ceiling / 2
        if let retryAfter { return min(maxSeconds, max(jittered, retryAfter)) }
        return jittered
    }
}

extension OutboxDispatcher {
    /// What an attempt makes of its delivery under `policy`: its new status, the error to record, and when it is
    /// next due (a retry while attempts remain, else dead-lettered).
    static func decide(_ attempt: Attempt, attempts: Int, policy: RetryPolicy, now: Double)
        -> (DeliveryRecord.Status, String?, Double?)
    {
        if attempt.skipped, case .failed(let why) = attempt.result { return (.skipped, why, nil) }
        switch attempt.result {
        case .delivered:
            return (.sent, nil, nil)
        case .failed(let why):
            return (.failed, why, nil)
        case .notStarted(let why):
            // Not attempted (the dispatcher gives such a delivery back instead): due again at once.
            return (.pending, why, now)
        case .retry(let why, let after):
            if attempts >= policy.maxAttempts {
                return (.dead, "gave up after \(attempts) attempts; last: \(why)", nil)
            }
            return (.pending, why, now + policy.delay(afterAttempts: attempts, retryAfter: after))
        }
    }
}
