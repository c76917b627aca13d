import Foundation
import HalfsizeCore
import Logging
import Metrics
import ServiceLifecycle
import Synchronization

/// A message to publish: persistent, JSON, mandatory (a message no queue takes is an error).
public struct OutgoingMessage: Sendable, Equatable {
    public var exchange: String
    public var routingKey: String
    public var body: [UInt8]
    public var messageID: String
    /// Per-message TTL: set on messages that wait in a delay queue.
    public var expiration: Duration?

    public init(exchange: String = "", routingKey: String, body: [UInt8], messageID: String, expiration: Duration? = nil) {
        self.exchange = exchange
        self.routingKey = routingKey
        self.body = body
        self.messageID = messageID
        self.expiration = expiration
    }

    /// A stage message for `queue`, through the default exchange.
    public init(_ queue: StageQueue, _ message: StageMessage) {
        let id = [message.job.rawValue, message.itemID.map(String.init) ?? "job", queue.rawValue].joined(separator: ":")
        self.init(routingKey: queue.rawValue, body: message.encoded(), messageID: id)
    }

    /// The queue the broker routes the message to: a stage queue, or the delay queue it waits in.
    public var destinationQueue: String {
        guard exchange == Topology.delayExchange, let tier = routingKey.split(separator: ".").first else { return routingKey }
        return "halfsize.delay.\(tier)"
    }

    /// The same stage message for `queue`, delivered there after `delay` (through a delay queue).
    public static func delayed(_ queue: StageQueue, _ message: StageMessage, by delay: Duration) -> OutgoingMessage {
        var outgoing = OutgoingMessage(queue, message)
        outgoing.exchange = Topology.delayExchange
        outgoing.routingKey = "\(Topology.tier(for: delay))s.\(queue.rawValue)"
        outgoing.expiration = max(delay, .milliseconds(1))
        return outgoing
    }
}

/// A message received from the consumed queue. Ack or reject it through the connection that
/// delivered it; after a reconnect its tag is void and the broker redelivers it.
public struct Delivery: Sendable {
    /// What the broker sent.
    struct Frame {
        var body: [UInt8]
        var deliveryTag: UInt64
        var redelivered: Bool
        var deathReason: String?
        var deathQueue: String?
    }

    public var body: [UInt8]
    public var deliveryTag: UInt64
    public var redelivered: Bool
    /// On a dead-lettered message: why (`delivery_limit`, `rejected`, `expired`) and from where.
    public var deathReason: String?
    public var deathQueue: String?
    let sessionGeneration: Int
}

/// What the broker connection consumes, and how.
public struct BrokerTopology: Sendable {
    public var consumedQueue: String?
    public var prefetch: Int
    /// Deliveries of one message before a stage queue dead-letters it (x-delivery-limit).
    public var deliveryLimit: Int

    public init(consumedQueue: String? = nil, prefetch: Int = 64, deliveryLimit: Int = 20) {
        self.consumedQueue = consumedQueue
        self.prefetch = prefetch
        self.deliveryLimit = deliveryLimit
    }
}

/// One AMQP connection driven by one dedicated I/O thread: it consumes, acks, publishes, reads
/// publisher confirms and answers queue inspections, and it is inside rabbitmq-c often enough to
/// answer heartbeats. Other threads hand it commands through a locked queue; work never runs on
/// the I/O thread. It reconnects with back-off; deliveries of a lost connection are redelivered.
///
/// Who answers a waiter: the command loop answers an inspection at once; a publish is answered by
/// its confirms (`ConfirmTracker`). Whatever ends a session — a failed write, a lost socket,
/// shutdown — fails every waiter it holds. Commands it had not yet sent wait for the next session,
/// like commands queued while no session is up, and fail when that connection attempt fails.
/// `Completion` makes a second answer a no-op, so no path has to know about another.
public final class BrokerConnection: Service, Sendable {
    enum Command: Sendable {
        case publish(PublishRequest)
        case inspect(queue: String, Completion<QueueDepth>)
        case ack(UInt64, generation: Int)
        case reject(UInt64, generation: Int, requeue: Bool)

        /// Answers the waiter, if the command has one.
        func fail(_ error: HalfsizeError) {
            switch self {
            case .publish(let request): request.completion.fail(error)
            case .inspect(_, let completion): completion.fail(error)
            case .ack, .reject: break  // the broker redelivers what a lost session did not ack
            }
        }
    }

    final class PublishRequest: Sendable {
        let messages: [OutgoingMessage]
        let completion: Completion<Void>

        init(messages: [OutgoingMessage], completion: Completion<Void>) {
            self.messages = messages
            self.completion = completion
        }
    }

    struct Shared: Sendable {
        var commands: [Command] = []
        var stopping = false
        var connected = false
        var generation = 0
    }

    public let endpoint: BrokerEndpoint
    public let topology: BrokerTopology
    public let deliveries: AsyncStream<Delivery>
    let deliveryContinuation: AsyncStream<Delivery>.Continuation
    let shared = Mutex(Shared())
    let logger: Logger
    /// How long a published message may wait for its confirm before its publisher fails. (Before it
    /// is published, a failed connection attempt is what fails it.)
    let confirmTimeout: Duration
    /// How long one broker RPC (declare, consume, inspect) may take.
    let rpcTimeout: Duration
    /// On shutdown, how long outstanding confirms are awaited before their waiters fail.
    let drainTimeout: Duration
    /// How long an ack may wait for the deliveries before it, to go out as one (`AckWindow`).
    static let ackHoldLimit = Duration.milliseconds(20)

    public init(endpoint: BrokerEndpoint, topology: BrokerTopology, confirmTimeout: Duration = .seconds(30),
                rpcTimeout: Duration = .seconds(10), drainTimeout: Duration = .seconds(5), logger: Logger) {
        self.endpoint = endpoint
        self.topology = topology
        self.confirmTimeout = confirmTimeout
        self.rpcTimeout = rpcTimeout
        self.drainTimeout = drainTimeout
        self.logger = logger
        (deliveries, deliveryContinuation) = AsyncStream.makeStream(of: Delivery.self)
    }

    public var isConnected: Bool { shared.withLock { $0.connected } }

    /// Publishes messages and returns once the broker has confirmed every one of them.
    public func publish(_ messages: [OutgoingMessage]) async throws {
        guard !messages.isEmpty else { return }
        try await withCheckedThrowingContinuation { continuation in
            submit(.publish(PublishRequest(messages: messages, completion: Completion(continuation))))
        }
        for (queue, count) in Dictionary(grouping: messages, by: \.destinationQueue).mapValues(\.count) {
            Counter(label: "halfsize_messages_published_total", dimensions: [("queue", queue)]).increment(by: count)
        }
    }

    /// The depth and consumers of a queue, from a passive declare.
    public func inspect(_ queue: String) async throws -> QueueDepth {
        try await withCheckedThrowingContinuation { continuation in
            submit(.inspect(queue: queue, Completion(continuation)))
        }
    }

    public func ack(_ delivery: Delivery) {
        submit(.ack(delivery.deliveryTag, generation: delivery.sessionGeneration))
    }

    public func reject(_ delivery: Delivery, requeue: Bool) {
        submit(.reject(delivery.deliveryTag, generation: delivery.sessionGeneration, requeue: requeue))
    }

    /// Queues a command for the I/O thread, or fails it at once when the connection is stopping.
    /// While it is connecting, commands wait for the session; a connection attempt that fails
    /// fails them.
    private func submit(_ command: Command) {
        let accepted = shared.withLock { shared -> Bool in
            guard !shared.stopping else { return false }
            shared.commands.append(command)
            return true
        }
        if !accepted { command.fail(HalfsizeError(.brokerUnavailable, "the broker connection is shutting down")) }
    }

    public func run() async throws {
        await withTaskCancellationHandler {
            await withGracefulShutdownHandler {
                await withCheckedContinuation { (finished: CheckedContinuation<Void, Never>) in
                    let thread = Thread { [self] in
                        runIOThread()
                        finished.resume()
                    }
                    thread.name = "amqp-io"
                    thread.start()
                }
            } onGracefulShutdown: {
                self.shared.withLock { $0.stopping = true }
            }
        } onCancel: {
            self.shared.withLock { $0.stopping = true }
        }
    }

    // MARK: - I/O thread

    private var isStopping: Bool { shared.withLock { $0.stopping } }

    private func runIOThread() {
        var backoff = 0.25
        while !isStopping {
            var established = false
            do {
                let session = try AMQPSession(endpoint: endpoint, rpcTimeout: rpcTimeout)
                try session.declareTopology(deliveryLimit: topology.deliveryLimit)
                try session.enableConfirms()
                if let queue = topology.consumedQueue { try session.consume(queue, prefetch: topology.prefetch) }
                let generation = shared.withLock { shared -> Int in
                    shared.generation += 1
                    shared.connected = true
                    return shared.generation
                }
                logger.info("connected to broker", metadata: ["broker": "\(endpoint.redacted)", "consuming": "\(topology.consumedQueue ?? "-")"])
                backoff = 0.25
                established = true
                try serve(session, generation: generation)
            } catch {
                logger.error("broker connection failed; reconnecting", metadata: [
                    "error.code": "\(error.code.rawValue)", "error": "\(error.message)", "retry_in_seconds": "\(backoff)",
                ])
                if established {
                    // What the lost session never sent waits for the next attempt, which fails it if it fails.
                    shared.withLock { $0.connected = false }
                } else {
                    disconnect(failing: HalfsizeError(.brokerUnavailable, "broker connection failed: \(error.message)"))
                }
                sleepUnlessStopping(seconds: backoff)
                backoff = min(backoff * 2, 8)
            }
        }
        disconnect(failing: HalfsizeError(.brokerUnavailable, "the broker connection has stopped"))
        deliveryContinuation.finish()
        logger.info("broker connection closed")
    }

    /// Marks the connection down and fails every command still queued.
    private func disconnect(failing error: HalfsizeError) {
        let queued = shared.withLock { shared -> [Command] in
            shared.connected = false
            defer { shared.commands.removeAll() }
            return shared.commands
        }
        for command in queued { command.fail(error) }
    }

    private func sleepUnlessStopping(seconds: Double) {
        let end = Date().addingTimeInterval(seconds)
        while Date() < end, !isStopping { Thread.sleep(forTimeInterval: 0.05) }
    }

    /// Runs one session until it fails (throws) or the connection stops (returns). Every publish
    /// still waiting for its confirm when the session ends fails; acks not sent yet are lost with
    /// it (the broker redelivers). On stop it first runs what is queued, sends every ack and waits
    /// up to `drainTimeout` for outstanding confirms.
    private func serve(_ session: AMQPSession, generation: Int) throws(HalfsizeError) {
        var confirms = ConfirmTracker()
        var acks = AckWindow(holdLimit: Self.ackHoldLimit)
        defer { confirms.failAll(HalfsizeError(.brokerUnavailable, "the broker session ended before it confirmed the publish")) }
        var drainDeadline: ContinuousClock.Instant?
        while true {
            let (commands, stopping) = shared.withLock { shared in
                defer { shared.commands.removeAll(keepingCapacity: true) }
                return (shared.commands, shared.stopping)
            }
            for (index, command) in commands.enumerated() {
                do {
                    try execute(command, on: session, generation: generation, confirms: &confirms, acks: &acks)
                } catch {
                    // The failed command has been answered; the ones behind it were never sent.
                    let unsent = commands[(index + 1)...]
                    shared.withLock { $0.commands.insert(contentsOf: unsent, at: 0) }
                    throw error
                }
            }
            let now = ContinuousClock.now
            // Stopping, nothing is held back: every ack decided goes out now.
            for ack in acks.due(at: stopping ? now + Self.ackHoldLimit : now) { try session.ack(ack.tag, multiple: ack.multiple) }
            if stopping {
                let deadline = drainDeadline ?? now + drainTimeout
                drainDeadline = deadline
                if confirms.isEmpty || now > deadline { return }
            }
            confirms.failExpired(now: now)
            switch try session.next(waitMicroseconds: commands.isEmpty ? 10_000 : 0) {
            case .delivery(let frame):
                acks.delivered(frame.deliveryTag)
                deliveryContinuation.yield(Delivery(body: frame.body, deliveryTag: frame.deliveryTag, redelivered: frame.redelivered,
                                                    deathReason: frame.deathReason, deathQueue: frame.deathQueue,
                                                    sessionGeneration: generation))
            case .confirm(let tag, let multiple, let refused):
                confirms.confirm(upTo: tag, multiple: multiple, refused: refused)
            case .returned(let sequence, let reason):
                confirms.markReturned(sequence, reason: reason)
            case .nothing:
                break
            }
        }
    }

    private func execute(_ command: Command, on session: AMQPSession, generation: Int,
                         confirms: inout ConfirmTracker, acks: inout AckWindow) throws(HalfsizeError) {
        switch command {
        case .publish(let request):
            // Registered first: if a write fails half-way, the session's end fails the request.
            var sequence = confirms.add(request, deadline: .now + confirmTimeout)
            for message in request.messages {
                try session.publish(message, sequence: sequence)
                sequence += 1
            }
        case .inspect(let queue, let completion):
            do {
                completion.succeed(try session.inspect(queue))
            } catch {
                completion.fail(error)
                throw error  // a failed passive declare closes the channel
            }
        case .ack(let tag, let commandGeneration) where commandGeneration == generation:
            acks.ack(tag, at: .now)  // sent by the loop, with the acks before it where it can
        case .reject(let tag, let commandGeneration, let requeue) where commandGeneration == generation:
            acks.rejected(tag)
            try session.reject(tag, requeue: requeue)
        case .ack, .reject:
            break  // from a lost session: the broker already requeued that delivery
        }
    }
}

extension BrokerConnection {
    /// Publishes many messages a batch at a time, each batch confirmed before the next is sent.
    public func publish(inBatchesOf size: Int, _ messages: [OutgoingMessage]) async throws {
        var start = messages.startIndex
        while start < messages.endIndex {
            let end = min(start + size, messages.endIndex)
            try await publish(Array(messages[start..<end]))
            start = end
        }
    }
}
