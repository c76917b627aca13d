import HalfsizeCore

/// Publisher confirms of one session: sequence numbers count from 1 per channel; the broker acks
/// them singly or "all up to N", in any order. A request completes when each of its messages is
/// confirmed, and fails if the broker refused or returned (found no queue for) any of them.
struct ConfirmTracker {
    final class Entry {
        let request: BrokerConnection.PublishRequest
        let deadline: ContinuousClock.Instant
        var remaining: Int
        var problem: String?

        init(_ request: BrokerConnection.PublishRequest, deadline: ContinuousClock.Instant) {
            self.request = request
            self.deadline = deadline
            self.remaining = request.messages.count
        }
    }

    private(set) var nextSequence: UInt64 = 1
    private var owners: [UInt64: Entry] = [:]
    private var entries: [Entry] = []

    var isEmpty: Bool { entries.isEmpty }

    /// Registers a request's messages as the next sequence numbers, to be confirmed by `deadline`,
    /// and returns the first.
    mutating func add(_ request: BrokerConnection.PublishRequest, deadline: ContinuousClock.Instant) -> UInt64 {
        let first = nextSequence
        let entry = Entry(request, deadline: deadline)
        for _ in request.messages {
            owners[nextSequence] = entry
            nextSequence += 1
        }
        entries.append(entry)
        return first
    }

    /// A basic.return for `sequence`: its confirm follows; the request will fail with `reason`.
    mutating func markReturned(_ sequence: UInt64, reason: String) {
        owners[sequence]?.problem = "no queue took a published message: \(reason)"
    }

    mutating func confirm(upTo tag: UInt64, multiple: Bool, refused: Bool) {
        let sequences = multiple ? owners.keys.filter { $0 <= tag } : (owners[tag] == nil ? [] : [tag])
        for sequence in sequences {
            guard let entry = owners.removeValue(forKey: sequence) else { continue }
            entry.remaining -= 1
            if refused { entry.problem = entry.problem ?? "the broker refused a published message (a queue is full or unavailable)" }
        }
        entries.removeAll { entry in
            guard entry.remaining == 0 else { return false }
            if let problem = entry.problem {
                entry.request.completion.fail(HalfsizeError(.brokerUnavailable, problem))
            } else {
                entry.request.completion.succeed(())
            }
            return true
        }
    }

    mutating func failExpired(now: ContinuousClock.Instant) {
        entries.removeAll { entry in
            guard entry.deadline < now else { return false }
            entry.request.completion.fail(HalfsizeError(.brokerUnavailable, "the broker did not confirm a publish in time"))
            return true
        }
        if entries.isEmpty { owners.removeAll() }
    }

    mutating func failAll(_ error: HalfsizeError) {
        for entry in entries { entry.request.completion.fail(error) }
        entries.removeAll()
        owners.removeAll()
    }
}
