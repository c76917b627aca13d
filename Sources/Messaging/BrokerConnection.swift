import CHalfsizeShims
import CRabbitMQ
import Foundation
import HalfsizeCore
import Logging
import ServiceLifecycle
import Synchronization

/// A message to publish: persistent, JSON, through the default exchange to a queue.
public struct OutgoingMessage: Sendable, Equatable {
    public var queue: String
    public var body: [UInt8]
    public var messageID: String

    public init(queue: String, body: [UInt8], messageID: String) {
        self.queue = queue
        self.body = body
        self.messageID = messageID
    }

    public init(_ queue: StageQueue, _ message: StageMessage) {
        let id = [message.job.rawValue, message.itemID.map(String.init) ?? "job", queue.rawValue].joined(separator: ":")
        self.init(queue: queue.rawValue, body: message.encoded(), messageID: id)
    }
}

/// A message received from the consumed queue. Ack or reject it through the connection that
/// delivered it; after a reconnect its tag is void and the broker redelivers it.
public struct Delivery: Sendable {
    public var body: [UInt8]
    public var deliveryTag: UInt64
    public var redelivered: Bool
    let sessionGeneration: Int
}

/// What the broker connection does besides publishing: which queues it declares and which it consumes.
public struct BrokerTopology: Sendable {
    public var declaredQueues: [String]
    public var consumedQueue: String?
    public var prefetch: Int
    /// Deliveries of one message before the quorum queue drops it (x-delivery-limit).
    public var deliveryLimit: Int

    public init(declaredQueues: [String] = StageQueue.allCases.map(\.rawValue), consumedQueue: String? = nil,
                prefetch: Int = 64, deliveryLimit: Int = 20) {
        self.declaredQueues = declaredQueues
        self.consumedQueue = consumedQueue
        self.prefetch = prefetch
        self.deliveryLimit = deliveryLimit
    }
}

/// One AMQP connection driven by one dedicated I/O thread: it consumes, acks, publishes and reads
/// publisher confirms, and it is inside rabbitmq-c often enough to answer heartbeats. Other threads
/// talk to it through a locked command queue; work never runs on the I/O thread. It reconnects with
/// back-off; deliveries of a lost connection are redelivered by the broker.
public final class BrokerConnection: Service, Sendable {
    enum Command: Sendable {
        case publish(PublishRequest)
        case ack(UInt64, generation: Int)
        case reject(UInt64, generation: Int, requeue: Bool)
    }

    final class PublishRequest: Sendable {
        let messages: [OutgoingMessage]
        let continuation: CheckedContinuation<Void, any Error>
        let deadline: ContinuousClock.Instant

        init(messages: [OutgoingMessage], continuation: CheckedContinuation<Void, any Error>, deadline: ContinuousClock.Instant) {
            self.messages = messages
            self.continuation = continuation
            self.deadline = deadline
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
    /// How long a publish may wait for its confirm before it fails.
    let confirmTimeout: Duration

    public init(endpoint: BrokerEndpoint, topology: BrokerTopology, confirmTimeout: Duration = .seconds(30), logger: Logger) {
        self.endpoint = endpoint
        self.topology = topology
        self.confirmTimeout = confirmTimeout
        self.logger = logger
        (deliveries, deliveryContinuation) = AsyncStream.makeStream(of: Delivery.self)
    }

    public var isConnected: Bool { shared.withLock { $0.connected } }

    /// Publishes messages and returns once the broker has confirmed every one of them.
    public func publish(_ messages: [OutgoingMessage]) async throws {
        guard !messages.isEmpty else { return }
        let deadline = ContinuousClock.now + confirmTimeout
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            let request = PublishRequest(messages: messages, continuation: continuation, deadline: deadline)
            let accepted = shared.withLock { shared -> Bool in
                guard !shared.stopping else { return false }
                shared.commands.append(.publish(request))
                return true
            }
            if !accepted {
                continuation.resume(throwing: HalfsizeError(.brokerUnavailable, "the broker connection is shutting down"))
            }
        }
    }

    public func ack(_ delivery: Delivery) {
        shared.withLock { $0.commands.append(.ack(delivery.deliveryTag, generation: delivery.sessionGeneration)) }
    }

    public func reject(_ delivery: Delivery, requeue: Bool) {
        shared.withLock {
            $0.commands.append(.reject(delivery.deliveryTag, generation: delivery.sessionGeneration, requeue: requeue))
        }
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
            do {
                let session = try AMQPSession(endpoint: endpoint)
                for queue in topology.declaredQueues {
                    try session.declareQuorumQueue(queue, deliveryLimit: topology.deliveryLimit)
                }
                try session.enableConfirms()
                if let queue = topology.consumedQueue {
                    try session.consume(queue, prefetch: topology.prefetch)
                }
                let generation = shared.withLock { shared -> Int in
                    shared.generation += 1
                    shared.connected = true
                    return shared.generation
                }
                logger.info("connected to broker", metadata: ["broker": "\(endpoint.redacted)", "consuming": "\(topology.consumedQueue ?? "-")"])
                backoff = 0.25
                var confirms = ConfirmTracker()
                do {
                    try serve(session, generation: generation, confirms: &confirms)
                } catch {
                    confirms.failAll(error)
                    throw error
                }
            } catch {
                shared.withLock { $0.connected = false }
                failQueuedPublishes(HalfsizeError(.brokerUnavailable, "broker connection lost: \(error)"))
                logger.error("broker connection failed; reconnecting", metadata: [
                    "error": "\(error)", "retry_in_seconds": "\(backoff)",
                ])
                sleepUnlessStopping(seconds: backoff)
                backoff = min(backoff * 2, 8)
            }
        }
        shared.withLock { $0.connected = false }
        failQueuedPublishes(HalfsizeError(.brokerUnavailable, "the broker connection has stopped"))
        deliveryContinuation.finish()
        logger.info("broker connection closed")
    }

    private func sleepUnlessStopping(seconds: Double) {
        let end = Date().addingTimeInterval(seconds)
        while Date() < end, !isStopping { Thread.sleep(forTimeInterval: 0.05) }
    }

    private func failQueuedPublishes(_ error: HalfsizeError) {
        let dropped = shared.withLock { shared -> [Command] in
            defer { shared.commands.removeAll() }
            return shared.commands
        }
        for case .publish(let request) in dropped { request.continuation.resume(throwing: error) }
    }

    /// Runs one session until it fails or the connection stops. On stop it first sends what is
    /// queued and waits (bounded) for the outstanding confirms, so no confirmed work is left unacked.
    private func serve(_ session: AMQPSession, generation: Int, confirms: inout ConfirmTracker) throws(HalfsizeError) {
        var stopDeadline: ContinuousClock.Instant?
        while true {
            let (commands, stopping) = shared.withLock { shared in
                defer { shared.commands.removeAll(keepingCapacity: true) }
                return (shared.commands, shared.stopping)
            }
            for command in commands {
                switch command {
                case .publish(let request):
                    for message in request.messages {
                        try session.publish(queue: message.queue, body: message.body, messageID: message.messageID)
                    }
                    confirms.add(request)
                case .ack(let tag, let commandGeneration) where commandGeneration == generation:
                    try session.ack(tag)
                case .reject(let tag, let commandGeneration, let requeue) where commandGeneration == generation:
                    try session.reject(tag, requeue: requeue)
                case .ack, .reject:
                    continue  // from a lost session: the broker already requeued that delivery
                }
            }
            if stopping {
                let now = ContinuousClock.now
                if stopDeadline == nil { stopDeadline = now + .seconds(5) }
                if confirms.isEmpty || now > stopDeadline! { return }
            }
            confirms.failExpired(now: .now)
            amqp_maybe_release_buffers(session.state)
            try receive(session, generation: generation, confirms: &confirms, waitMicroseconds: commands.isEmpty ? 10_000 : 0)
        }
    }

    /// Waits briefly for one frame: a delivery, a publisher confirm, or nothing.
    private func receive(_ session: AMQPSession, generation: Int, confirms: inout ConfirmTracker,
                         waitMicroseconds: Int) throws(HalfsizeError) {
        var envelope = amqp_envelope_t()
        var timeout = timeval(tv_sec: 0, tv_usec: waitMicroseconds)
        let reply = amqp_consume_message(session.state, &envelope, &timeout, 0)
        let kind = reply.reply_type
        if kind == AMQP_RESPONSE_NORMAL {
            defer { amqp_destroy_envelope(&envelope) }
            let body: [UInt8]
            if let bytes = envelope.message.body.bytes, envelope.message.body.len > 0 {
                body = Array(UnsafeRawBufferPointer(start: bytes, count: envelope.message.body.len))
            } else {
                body = []
            }
            deliveryContinuation.yield(Delivery(body: body, deliveryTag: envelope.delivery_tag,
                                                redelivered: envelope.redelivered != 0, sessionGeneration: generation))
            return
        }
        guard kind == AMQP_RESPONSE_LIBRARY_EXCEPTION else {
            return try AMQPStatus.check(reply, "lost the broker connection")
        }
        switch reply.library_error {
        case AMQP_STATUS_TIMEOUT.rawValue:
            return
        case AMQP_STATUS_UNEXPECTED_STATE.rawValue:
            // Another frame came first: a confirm, a close, or a returned message.
            var frame = amqp_frame_t()
            try AMQPStatus.check(amqp_simple_wait_frame(session.state, &frame), "cannot read a frame from the broker")
            guard frame.frame_type == UInt8(AMQP_FRAME_METHOD) else { return }
            let method = frame.payload.method
            switch method.id {
            case AMQP_BASIC_ACK_METHOD:
                let ack = method.decoded.assumingMemoryBound(to: amqp_basic_ack_t.self).pointee
                confirms.confirm(upTo: ack.delivery_tag, multiple: ack.multiple != 0, refused: false)
            case AMQP_BASIC_NACK_METHOD:
                let nack = method.decoded.assumingMemoryBound(to: amqp_basic_nack_t.self).pointee
                confirms.confirm(upTo: nack.delivery_tag, multiple: nack.multiple != 0, refused: true)
            case AMQP_CHANNEL_CLOSE_METHOD, AMQP_CONNECTION_CLOSE_METHOD:
                throw HalfsizeError(.brokerUnavailable, "broker closed the \(AMQPStatus.describe(method))")
            case AMQP_BASIC_RETURN_METHOD:
                var message = amqp_message_t()
                let read = amqp_read_message(session.state, frame.channel, &message, 0)
                try AMQPStatus.check(read, "cannot read a returned message")
                amqp_destroy_message(&message)
            default:
                logger.debug("ignoring broker frame", metadata: ["method": "\(method.id)"])
            }
        default:
            try AMQPStatus.check(reply, "lost the broker connection")
        }
    }
}

/// Publisher confirms of one session: sequence numbers count from 1 per channel; the broker acks
/// them singly or "all up to N", in any order. A request completes when each of its messages is
/// confirmed, and fails if the broker refused any of them.
struct ConfirmTracker {
    final class Entry {
        let request: BrokerConnection.PublishRequest
        var remaining: Int
        var refused = false

        init(_ request: BrokerConnection.PublishRequest) {
            self.request = request
            self.remaining = request.messages.count
        }
    }

    private var nextSequence: UInt64 = 1
    private var owners: [UInt64: Entry] = [:]
    private var entries: [Entry] = []

    var isEmpty: Bool { entries.isEmpty }

    mutating func add(_ request: BrokerConnection.PublishRequest) {
        let entry = Entry(request)
        for _ in request.messages {
            owners[nextSequence] = entry
            nextSequence += 1
        }
        entries.append(entry)
    }

    mutating func confirm(upTo tag: UInt64, multiple: Bool, refused: Bool) {
        let sequences = multiple ? owners.keys.filter { $0 <= tag } : (owners[tag] == nil ? [] : [tag])
        for sequence in sequences {
            guard let entry = owners.removeValue(forKey: sequence) else { continue }
            entry.remaining -= 1
            if refused { entry.refused = true }
        }
        entries.removeAll { entry in
            guard entry.remaining == 0 else { return false }
            if entry.refused {
                entry.request.continuation.resume(throwing: HalfsizeError(.brokerUnavailable, "the broker refused a published message"))
            } else {
                entry.request.continuation.resume()
            }
            return true
        }
    }

    mutating func failExpired(now: ContinuousClock.Instant) {
        guard entries.contains(where: { $0.request.deadline < now }) else { return }
        failAll(HalfsizeError(.brokerUnavailable, "the broker did not confirm a publish in time"))
    }

    mutating func failAll(_ error: any Error) {
        for entry in entries { entry.request.continuation.resume(throwing: error) }
        entries.removeAll()
        owners.removeAll()
    }
}
