import CHalfsizeShims
import CRabbitMQ
import Foundation
import HalfsizeCore

/// Where and how to reach the broker.
public struct BrokerEndpoint: Sendable, Equatable {
    public var host: String
    public var port: Int
    public var user: String
    public var password: String
    public var virtualHost: String
    public var heartbeatSeconds: Int

    /// Parses `amqp://user:password@host:port/vhost` (vhost percent-encoded, `/` when absent).
    public init(url: URL, heartbeatSeconds: Int = 30) throws(HalfsizeError) {
        guard let components = URLComponents(url: url, resolvingAgainstBaseURL: false),
              components.scheme == "amqp", let host = components.host, !host.isEmpty else {
            throw HalfsizeError(.invalidConfiguration, "broker URL must look like amqp://user:password@host:5672/vhost, not \(url)")
        }
        self.host = host
        self.port = components.port ?? 5672
        self.user = components.user?.removingPercentEncoding ?? "guest"
        self.password = components.password?.removingPercentEncoding ?? "guest"
        let path = components.percentEncodedPath
        self.virtualHost = path.isEmpty || path == "/" ? "/" : String(path.dropFirst()).removingPercentEncoding ?? "/"
        self.heartbeatSeconds = heartbeatSeconds
    }

    public var redacted: String { "amqp://\(user)@\(host):\(port)/\(virtualHost == "/" ? "" : virtualHost)" }
}

/// Turns rabbitmq-c's statuses and RPC replies into thrown errors: the one place that reads them.
enum AMQPStatus {
    static func check(_ status: Int32, _ context: @autoclosure () -> String) throws(HalfsizeError) {
        guard status < 0 else { return }
        throw HalfsizeError(.brokerUnavailable, "\(context()): \(String(cString: amqp_error_string2(status)))")
    }

    static func check(_ reply: amqp_rpc_reply_t, _ context: @autoclosure () -> String) throws(HalfsizeError) {
        switch reply.reply_type {
        case AMQP_RESPONSE_NORMAL:
            return
        case AMQP_RESPONSE_LIBRARY_EXCEPTION:
            throw HalfsizeError(.brokerUnavailable, "\(context()): \(String(cString: amqp_error_string2(reply.library_error)))")
        case AMQP_RESPONSE_SERVER_EXCEPTION:
            throw HalfsizeError(.brokerUnavailable, "\(context()): broker closed the \(describe(reply.reply))")
        default:
            throw HalfsizeError(.brokerUnavailable, "\(context()): no reply from the broker")
        }
    }

    static func describe(_ method: amqp_method_t) -> String {
        switch method.id {
        case AMQP_CONNECTION_CLOSE_METHOD:
            let close = method.decoded.assumingMemoryBound(to: amqp_connection_close_t.self).pointee
            return "connection: \(close.reply_code) \(text(close.reply_text))"
        case AMQP_CHANNEL_CLOSE_METHOD:
            let close = method.decoded.assumingMemoryBound(to: amqp_channel_close_t.self).pointee
            let hint = close.reply_code == 406
                ? " (a queue declared by an older halfsize with other arguments: let it drain, then delete it with rabbitmqctl delete_queue)" : ""
            return "channel: \(close.reply_code) \(text(close.reply_text))\(hint)"
        default:
            return "session with method \(method.id)"
        }
    }

    static func text(_ bytes: amqp_bytes_t) -> String {
        guard let pointer = bytes.bytes, bytes.len > 0 else { return "" }
        return String(decoding: UnsafeRawBufferPointer(start: pointer, count: bytes.len), as: UTF8.self)
    }
}

/// What one read from the broker brought.
enum Incoming {
    case delivery(Delivery.Frame)
    /// A publisher confirm: ack (refused false) or nack of `tag`, or of every tag up to it.
    case confirm(tag: UInt64, multiple: Bool, refused: Bool)
    /// A mandatory message no queue took; its confirm follows.
    case returned(sequence: UInt64, reason: String)
    case nothing
}

/// One rabbitmq-c connection with one channel: the only code that holds rabbitmq-c types. Not
/// thread-safe by design: exactly one thread (the owning `BrokerConnection`'s I/O thread)
/// creates, uses and frees it. Every RPC is bounded by `rpcTimeout`.
final class AMQPSession {
    static let channel: amqp_channel_t = 1
    let state: amqp_connection_state_t
    private var open = false

    init(endpoint: BrokerEndpoint, rpcTimeout: Duration) throws(HalfsizeError) {
        guard let state = amqp_new_connection() else {
            throw HalfsizeError(.outOfMemory, "cannot allocate a broker connection")
        }
        self.state = state
        guard let socket = amqp_tcp_socket_new(state) else {
            throw HalfsizeError(.outOfMemory, "cannot allocate a broker socket")
        }
        var timeout = timeval(tv_sec: Int(rpcTimeout.components.seconds), tv_usec: 0)
        try AMQPStatus.check(amqp_set_rpc_timeout(state, &timeout), "cannot set the broker RPC timeout")
        try AMQPStatus.check(amqp_set_handshake_timeout(state, &timeout), "cannot set the broker handshake timeout")
        try AMQPStatus.check(amqp_socket_open_noblock(socket, endpoint.host, Int32(endpoint.port), &timeout),
                             "cannot connect to the broker at \(endpoint.host):\(endpoint.port)")
        var reply = amqp_rpc_reply_t()
        hs_amqp_login_plain(state, endpoint.virtualHost, 0, 131_072, Int32(endpoint.heartbeatSeconds),
                            endpoint.user, endpoint.password, &reply)
        try AMQPStatus.check(reply, "broker login as \(endpoint.user) failed")
        amqp_channel_open(state, Self.channel)
        try AMQPStatus.check(amqp_get_rpc_reply(state), "cannot open a broker channel")
        open = true
    }

    /// Declares every exchange, queue and binding of `Topology`.
    func declareTopology(deliveryLimit: Int) throws(HalfsizeError) {
        var reply = amqp_rpc_reply_t()
        for (exchange, type) in [(Topology.deadLetterExchange, "fanout"), (Topology.delayExchange, "topic"),
                                 (Topology.retryExchange, "topic")] {
            hs_amqp_declare_exchange(state, Self.channel, exchange, type, &reply)
            try AMQPStatus.check(reply, "cannot declare exchange \(exchange)")
        }
        for queue in StageQueue.allCases {
            if queue == .dead {
                _ = try declareQueue(queue.rawValue, deliveryLimit: 0, deadLetterExchange: nil, passive: false)
                try bind(queue.rawValue, to: Topology.deadLetterExchange, pattern: "")
            } else {
                _ = try declareQueue(queue.rawValue, deliveryLimit: deliveryLimit, deadLetterExchange: Topology.deadLetterExchange, passive: false)
                try bind(queue.rawValue, to: Topology.retryExchange, pattern: "*.\(queue.rawValue)")
            }
        }
        for seconds in Topology.delayTiers {
            let queue = Topology.delayQueue(seconds: seconds)
            _ = try declareQueue(queue, deliveryLimit: 0, deadLetterExchange: Topology.retryExchange, passive: false)
            try bind(queue, to: Topology.delayExchange, pattern: "\(seconds)s.#")
        }
    }

    /// The depth of an existing queue (a passive declare).
    func inspect(_ queue: String) throws(HalfsizeError) -> QueueDepth {
        try declareQueue(queue, deliveryLimit: 0, deadLetterExchange: nil, passive: true)
    }

    private func declareQueue(_ name: String, deliveryLimit: Int, deadLetterExchange: String?, passive: Bool) throws(HalfsizeError) -> QueueDepth {
        var reply = amqp_rpc_reply_t()
        var messages: UInt32 = 0, consumers: UInt32 = 0
        withOptionalCString(deadLetterExchange) { exchange in
            var arguments = hs_amqp_queue_arguments(delivery_limit: Int32(deliveryLimit), dead_letter_exchange: exchange)
            hs_amqp_declare_quorum_queue(state, Self.channel, name, &arguments, passive ? 1 : 0, &messages, &consumers, &reply)
        }
        try AMQPStatus.check(reply, "cannot declare queue \(name)")
        return QueueDepth(ready: Int(messages), consumers: Int(consumers))
    }

    private func bind(_ queue: String, to exchange: String, pattern: String) throws(HalfsizeError) {
        var reply = amqp_rpc_reply_t()
        hs_amqp_bind(state, Self.channel, queue, exchange, pattern, &reply)
        try AMQPStatus.check(reply, "cannot bind \(queue) to \(exchange)")
    }

    func enableConfirms() throws(HalfsizeError) {
        amqp_confirm_select(state, Self.channel)
        try AMQPStatus.check(amqp_get_rpc_reply(state), "cannot enable publisher confirms")
    }

    func consume(_ queue: String, prefetch: Int) throws(HalfsizeError) {
        amqp_basic_qos(state, Self.channel, 0, UInt16(clamping: prefetch), 0)
        try AMQPStatus.check(amqp_get_rpc_reply(state), "cannot set prefetch \(prefetch)")
        var reply = amqp_rpc_reply_t()
        hs_amqp_consume(state, Self.channel, queue, &reply)
        try AMQPStatus.check(reply, "cannot consume \(queue)")
    }

    /// Publishes one message (mandatory, persistent) as publisher-confirm number `sequence`.
    func publish(_ message: OutgoingMessage, sequence: UInt64) throws(HalfsizeError) {
        let expiration = UInt64(message.expiration?.inMilliseconds ?? 0)
        let now = UInt64(Date().timeIntervalSince1970)
        let status = message.body.withUnsafeBytes { buffer in
            hs_amqp_publish(state, Self.channel, message.exchange, message.routingKey, buffer.baseAddress, buffer.count,
                            message.messageID, sequence, expiration, now)
        }
        try AMQPStatus.check(status, "cannot publish to \(message.routingKey)")
    }

    /// Acks the delivery, or with `multiple` every delivery up to it.
    func ack(_ deliveryTag: UInt64, multiple: Bool) throws(HalfsizeError) {
        try AMQPStatus.check(amqp_basic_ack(state, Self.channel, deliveryTag, multiple ? 1 : 0), "cannot ack delivery \(deliveryTag)")
    }

    func reject(_ deliveryTag: UInt64, requeue: Bool) throws(HalfsizeError) {
        try AMQPStatus.check(amqp_basic_nack(state, Self.channel, deliveryTag, 0, requeue ? 1 : 0),
                             "cannot reject delivery \(deliveryTag)")
    }

    /// Waits up to `waitMicroseconds` for one frame and says what it was. Throws when the broker
    /// closed the channel or the connection, or the socket failed.
    func next(waitMicroseconds: Int) throws(HalfsizeError) -> Incoming {
        amqp_maybe_release_buffers(state)
        var envelope = amqp_envelope_t()
        var timeout = timeval(tv_sec: 0, tv_usec: waitMicroseconds)
        let reply = amqp_consume_message(state, &envelope, &timeout, 0)
        if reply.reply_type == AMQP_RESPONSE_NORMAL {
            defer { amqp_destroy_envelope(&envelope) }
            return .delivery(Delivery.Frame(
                body: Self.bytes(envelope.message.body), deliveryTag: envelope.delivery_tag,
                redelivered: envelope.redelivered != 0,
                deathReason: Self.header(&envelope.message.properties, "x-first-death-reason"),
                deathQueue: Self.header(&envelope.message.properties, "x-first-death-queue")))
        }
        guard reply.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION else {
            try AMQPStatus.check(reply, "lost the broker connection")
            return .nothing
        }
        switch reply.library_error {
        case AMQP_STATUS_TIMEOUT.rawValue:
            return .nothing
        case AMQP_STATUS_UNEXPECTED_STATE.rawValue:
            return try nextMethod()
        default:
            try AMQPStatus.check(reply, "lost the broker connection")
            return .nothing
        }
    }

    /// A frame other than a delivery came first: a confirm, a returned message, or a close.
    private func nextMethod() throws(HalfsizeError) -> Incoming {
        var frame = amqp_frame_t()
        try AMQPStatus.check(amqp_simple_wait_frame(state, &frame), "cannot read a frame from the broker")
        guard frame.frame_type == UInt8(AMQP_FRAME_METHOD) else { return .nothing }
        let method = frame.payload.method
        switch method.id {
        case AMQP_BASIC_ACK_METHOD:
            let ack = method.decoded.assumingMemoryBound(to: amqp_basic_ack_t.self).pointee
            return .confirm(tag: ack.delivery_tag, multiple: ack.multiple != 0, refused: false)
        case AMQP_BASIC_NACK_METHOD:
            let nack = method.decoded.assumingMemoryBound(to: amqp_basic_nack_t.self).pointee
            return .confirm(tag: nack.delivery_tag, multiple: nack.multiple != 0, refused: true)
        case AMQP_BASIC_RETURN_METHOD:
            let returned = method.decoded.assumingMemoryBound(to: amqp_basic_return_t.self).pointee
            let reason = "\(returned.reply_code) \(AMQPStatus.text(returned.reply_text)) (routing key \(AMQPStatus.text(returned.routing_key)))"
            var message = amqp_message_t()
            try AMQPStatus.check(amqp_read_message(state, frame.channel, &message, 0), "cannot read a returned message")
            defer { amqp_destroy_message(&message) }
            return .returned(sequence: hs_amqp_correlation_number(&message.properties), reason: reason)
        case AMQP_CHANNEL_CLOSE_METHOD, AMQP_CONNECTION_CLOSE_METHOD:
            throw HalfsizeError(.brokerUnavailable, "broker closed the \(AMQPStatus.describe(method))")
        default:
            return .nothing
        }
    }

    private static func bytes(_ bytes: amqp_bytes_t) -> [UInt8] {
        guard let pointer = bytes.bytes, bytes.len > 0 else { return [] }
        return Array(UnsafeRawBufferPointer(start: pointer, count: bytes.len))
    }

    private static func header(_ properties: UnsafePointer<amqp_basic_properties_t>, _ key: String) -> String? {
        var value = [CChar](repeating: 0, count: 256)
        hs_amqp_header_string(properties, key, &value, value.count)
        let text = String(decoding: value.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return text.isEmpty ? nil : text
    }

    deinit {
        if open {
            _ = amqp_channel_close(state, Self.channel, AMQP_REPLY_SUCCESS)
            _ = amqp_connection_close(state, AMQP_REPLY_SUCCESS)
        }
        amqp_destroy_connection(state)
    }
}

private func withOptionalCString<T>(_ text: String?, _ body: (UnsafePointer<CChar>?) -> T) -> T {
    guard let text else { return body(nil) }
    return text.withCString { body($0) }
}
