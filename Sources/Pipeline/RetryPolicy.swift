import Foundation
import HalfsizeCore

/// How long to wait before trying again: `base`, doubling per try up to `cap`, with ±20% jitter
/// so that work which failed together does not come back together.
public struct Backoff: Sendable {
    public var base: Duration
    public var cap: Duration

    public init(base: Duration = .seconds(1), cap: Duration = .seconds(60)) {
        self.base = base
        self.cap = cap
    }

    /// The wait before try number `retries + 1`.
    public func delay(afterRetries retries: Int) -> Duration {
        let doubled = base * Double(1 << min(retries, 20))
        let capped = min(doubled, cap)
        return capped * Double.random(in: 0.8...1.2)
    }
}

/// A fault of ours (database, storage or broker unavailable) is retried with `backoff` through
/// the delay queues for as long as it lasts, up to `horizon` from its first occurrence; only then
/// is the image failed, with `retries_exhausted`.
public struct RetryPolicy: Sendable {
    public var backoff: Backoff
    public var horizon: Duration

    public init(backoff: Backoff = Backoff(), horizon: Duration = .seconds(3600)) {
        self.backoff = backoff
        self.horizon = horizon
    }

    public enum Decision: Sendable, Equatable {
        /// Send the message again, with these retry fields, after `delay`.
        case retry(StageMessage, after: Duration)
        case giveUp(HalfsizeError)
    }

    public func decide(_ message: StageMessage, error: any Error, now: Date = Date()) -> Decision {
        let nowMilliseconds = Int64(now.timeIntervalSince1970 * 1000)
        let since = message.retrySince ?? nowMilliseconds
        let waited = Duration.milliseconds(nowMilliseconds - since)
        guard waited < horizon else {
            let cause = (error as? HalfsizeError)?.description ?? "\(error)"
            return .giveUp(HalfsizeError(.retriesExhausted,
                "a fault on our side lasted longer than the retry horizon (\(horizon.inMilliseconds / 1000) s, \(message.retries) retries); last: \(cause)"))
        }
        var next = message
        next.retries += 1
        next.retrySince = since
        return .retry(next, after: backoff.delay(afterRetries: message.retries))
    }
}
