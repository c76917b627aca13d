import HalfsizeCore

/// Every exchange and queue halfsize uses, as data. Each connection declares all of it on connect
/// (declarations are idempotent), so any process can start first.
///
/// - The stage queues are quorum queues with a delivery limit; a message that reaches the limit,
///   or that a worker rejects as undecodable, is dead-lettered (at least once) through the fanout
///   exchange `halfsize.dead-letter` into `halfsize.dead`, where csv-writer records it.
/// - A retry waits in a delay queue: it is published to the topic exchange `halfsize.delay` with
///   the routing key `<tier>.<stage queue>`, sits in `halfsize.delay.<tier>` until its per-message
///   TTL expires, and is dead-lettered with the same routing key through `halfsize.retry`, to which
///   each stage queue is bound with `*.<stage queue>`. Tiers keep similar TTLs together, because a
///   queue expires messages only from its head.
public enum Topology {
    public static let deadLetterExchange = "halfsize.dead-letter"
    public static let delayExchange = "halfsize.delay"
    public static let retryExchange = "halfsize.retry"

    /// The delay tiers, in seconds. A delay is rounded up to the next tier's queue and expires
    /// at its own TTL within it; the last tier bounds the longest wait.
    public static let delayTiers: [Int] = [1, 2, 4, 8, 16, 32, 60, 120, 300]

    public static func delayQueue(seconds: Int) -> String { "halfsize.delay.\(seconds)s" }

    /// The queues whose consumers do halfsize's work (dead letters included).
    public static let consumedQueues: [StageQueue] = StageQueue.allCases

    /// The tier a delay waits in: the smallest at least as long, or the longest.
    public static func tier(for delay: Duration) -> Int {
        let milliseconds = delay.inMilliseconds
        return delayTiers.first { $0 * 1000 >= milliseconds } ?? delayTiers.last!
    }
}

/// A queue's depth as the broker reports it on a passive declare.
public struct QueueDepth: Sendable, Equatable {
    public var ready: Int
    public var consumers: Int
}
