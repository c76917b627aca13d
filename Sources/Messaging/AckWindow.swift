/// The deliveries of one session that are not settled yet, and the acks decided for them. An ack
/// goes out with `multiple` where it can: one frame (and in a quorum queue one settle command)
/// then acknowledges every delivery up to its tag, which is what the broker spends most on per
/// consumed message. So an ack for a delivery behind one still being worked on waits for that one,
/// but never longer than `holdLimit`: held acks keep deliveries counted against the prefetch,
/// and a slow one must not stall the others.
struct AckWindow {
    /// An ack frame to send.
    struct Ack: Equatable {
        var tag: UInt64
        var multiple: Bool
    }

    let holdLimit: Duration
    /// Delivered and not yet acked or rejected, in delivery order (tags only grow in a session).
    private var unsettled: [UInt64] = []
    private var start = 0
    /// Acks decided but not sent, with when they were decided.
    private var held: [UInt64: ContinuousClock.Instant] = [:]

    init(holdLimit: Duration) {
        self.holdLimit = holdLimit
    }

    mutating func delivered(_ tag: UInt64) {
        unsettled.append(tag)
    }

    mutating func ack(_ tag: UInt64, at now: ContinuousClock.Instant) {
        held[tag] = now
    }

    /// A delivery rejected (its nack is sent at once): no ack will cover it.
    mutating func rejected(_ tag: UInt64) {
        held[tag] = nil
        if let index = unsettled[start...].firstIndex(of: tag) { unsettled.remove(at: index) }
    }

    /// The frames to send now: one `multiple` ack for the run of acked deliveries at the front,
    /// then single acks for those held past the limit.
    mutating func due(at now: ContinuousClock.Instant) -> [Ack] {
        var acks: [Ack] = []
        var covered = 0
        while start < unsettled.count, held.removeValue(forKey: unsettled[start]) != nil {
            start += 1
            covered += 1
        }
        if covered > 0 { acks.append(Ack(tag: unsettled[start - 1], multiple: covered > 1)) }
        let overdue = held.filter { now - $0.value >= holdLimit }.keys.sorted()
        for tag in overdue {
            acks.append(Ack(tag: tag, multiple: false))
            rejected(tag)  // settled out of order: off the window, as a reject is
        }
        if start > 1024 {
            unsettled.removeFirst(start)
            start = 0
        }
        return acks
    }

    var isEmpty: Bool { held.isEmpty }
}
