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
            return "channel: \(close.reply_code) \(text(close.reply_text))"
        default:
            return "session with method \(method.id)"
        }
    }

    static func text(_ bytes: amqp_bytes_t) -> String {
        guard let pointer = bytes.bytes, bytes.len > 0 else { return "" }
        return String(decoding: UnsafeRawBufferPointer(start: pointer, count: bytes.len), as: UTF8.self)
    }
}

/// One rabbitmq-c connection with one channel. Not thread-safe by design: exactly one thread
/// (the owning `BrokerConnection`'s I/O thread) creates, uses and frees it.
final class AMQPSession {
    static let channel: amqp_channel_t = 1
    let state: amqp_connection_state_t
    private var open = false

    init(endpoint: BrokerEndpoint) throws(HalfsizeError) {
        guard let state = amqp_new_connection() else {
            throw HalfsizeError(.outOfMemory, "cannot allocate a broker connection")
        }
        self.state = state
        guard let socket = amqp_tcp_socket_new(state) else {
            throw HalfsizeError(.outOfMemory, "cannot allocate a broker socket")
        }
        var timeout = timeval(tv_sec: 10, tv_usec: 0)
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

    func declareQuorumQueue(_ name: String, deliveryLimit: Int) throws(HalfsizeError) {
        var reply = amqp_rpc_reply_t()
        hs_amqp_declare_quorum_queue(state, Self.channel, name, Int32(deliveryLimit), &reply)
        try AMQPStatus.check(reply, "cannot declare queue \(name)")
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

    func publish(queue: String, body: [UInt8], messageID: String) throws(HalfsizeError) {
        let status = body.withUnsafeBytes { buffer in
            hs_amqp_publish_persistent(state, Self.channel, queue, buffer.baseAddress, buffer.count, messageID)
        }
        try AMQPStatus.check(status, "cannot publish to \(queue)")
    }

    func ack(_ deliveryTag: UInt64) throws(HalfsizeError) {
        try AMQPStatus.check(amqp_basic_ack(state, Self.channel, deliveryTag, 0), "cannot ack delivery \(deliveryTag)")
    }

    func reject(_ deliveryTag: UInt64, requeue: Bool) throws(HalfsizeError) {
        try AMQPStatus.check(amqp_basic_nack(state, Self.channel, deliveryTag, 0, requeue ? 1 : 0),
                             "cannot reject delivery \(deliveryTag)")
    }

    deinit {
        if open {
            _ = amqp_channel_close(state, Self.channel, AMQP_REPLY_SUCCESS)
            _ = amqp_connection_close(state, AMQP_REPLY_SUCCESS)
        }
        amqp_destroy_connection(state)
    }
}
