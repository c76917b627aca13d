import Foundation
import HalfsizeCore
import JobStore
import Messaging
import Storage
import Synchronization
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// One queue as the queue view shows it. Fields the source cannot give are nil.
public struct QueueRow: Codable, Sendable, Equatable {
    public var name: String
    public var ready: Int?
    public var unacked: Int?
    public var consumers: Int?
    /// Messages per second, averaged by the broker over the last 30 s.
    public var publishRate: Double?
    public var deliverRate: Double?
    public var ackRate: Double?
    /// How long the oldest work waiting for this stage has waited (from PostgreSQL).
    public var oldestAgeSeconds: Double?

    enum CodingKeys: String, CodingKey {
        case name, ready, unacked, consumers, publishRate = "publish_rate", deliverRate = "deliver_rate", ackRate = "ack_rate"
        case oldestAgeSeconds = "oldest_age_seconds"
    }
}

/// What an operator asks first: how much is waiting, where, since when, and is it draining.
public struct QueueOverview: Codable, Sendable {
    /// `management` (RabbitMQ's HTTP API) or `amqp` (passive declares: depth and consumers only).
    public var source: String
    /// The fields `source` cannot give.
    public var missing: [String]
    public var queues: [QueueRow]
    public var jobs: [String: Int]
    public var images: [String: Int]
    public var oldestUnfinishedJob: PipelineCounts.OldestJob?
    /// When the management API could not be read and the view fell back to AMQP, why.
    public var managementError: String?
    /// What the object store holds (measured at most every 30 s), or nil when it cannot be read.
    public var storage: StorageUsage?

    enum CodingKeys: String, CodingKey {
        case source, missing, queues, jobs, images, oldestUnfinishedJob = "oldest_unfinished_job", managementError = "management_error"
        case storage
    }
}

/// Builds the queue view: depth and consumers from passive declares; unacked counts and rates
/// from RabbitMQ's management API when `HALFSIZE_RABBITMQ_MANAGEMENT_URL` is set and readable
/// (else they are listed as missing); the pipeline's numbers from PostgreSQL.
public struct QueueMonitor: Sendable {
    let management: ManagementAPI?
    let broker: BrokerConnection
    let store: JobStore
    let storage: CachedStorageUsage

    public init(managementURL: URL?, broker: BrokerConnection, store: JobStore, objects: any ObjectStore) {
        self.management = managementURL.map(ManagementAPI.init(url:))
        self.broker = broker
        self.store = store
        self.storage = CachedStorageUsage(objects: objects)
    }

    public var source: String { management == nil ? "amqp" : "management" }

    /// Every halfsize queue: the stage queues, the dead-letter queue and the delay queues.
    static let queueNames: [String] = StageQueue.allCases.map(\.rawValue) + Topology.delayTiers.map(Topology.delayQueue(seconds:))

    public func overview() async throws -> QueueOverview {
        let counts = try await store.pipelineCounts()
        var source = "amqp"
        var missing = ["unacked", "publish_rate", "deliver_rate", "ack_rate"]
        var managementError: String?
        var rows: [QueueRow] = []
        if let management {
            do {
                rows = try await management.queues().filter { Self.queueNames.contains($0.name) }
                source = "management"
                missing = []
            } catch {
                managementError = "\(error)"
            }
        }
        if source == "amqp" {
            rows = Self.queueNames.map { QueueRow(name: $0) }
        }
        // Depth and consumers always come from passive declares: exact now, where the management
        // plugin's figures lag by its statistics interval and more under load (seen: 315 ready
        // in its view while 49 were).
        for index in rows.indices {
            let depth = try await broker.inspect(rows[index].name)
            rows[index].ready = depth.ready
            rows[index].consumers = depth.consumers
        }
        for index in rows.indices {
            if let queue = StageQueue(rawValue: rows[index].name) { rows[index].oldestAgeSeconds = counts.oldestWaitingSeconds[queue] }
        }
        rows.sort { (Self.queueNames.firstIndex(of: $0.name) ?? .max) < (Self.queueNames.firstIndex(of: $1.name) ?? .max) }
        return QueueOverview(source: source, missing: missing, queues: rows, jobs: counts.jobs, images: counts.images,
                             oldestUnfinishedJob: counts.oldestUnfinishedJob, managementError: managementError,
                             storage: try? await storage.current())
    }
}

/// The object store's usage, measured again once the last measurement is 30 s old: walking a
/// big data directory on every refresh of the ops page would cost more than it tells.
final class CachedStorageUsage: Sendable {
    let objects: any ObjectStore
    let maximumAge: Duration = .seconds(30)
    let last = Mutex<(at: ContinuousClock.Instant, usage: StorageUsage)?>(nil)

    init(objects: any ObjectStore) {
        self.objects = objects
    }

    func current() async throws -> StorageUsage {
        if let last = last.withLock({ $0 }), ContinuousClock.now - last.at < maximumAge { return last.usage }
        let usage = try await objects.usage()
        last.withLock { $0 = (ContinuousClock.now, usage) }
        return usage
    }
}

/// RabbitMQ's management HTTP API: GET /api/queues/{vhost}. Credentials come from the URL's
/// user and password and are sent as basic authentication (never logged: `description` drops them).
struct ManagementAPI: Sendable, CustomStringConvertible {
    let base: URL
    let authorization: String?

    init(url: URL) {
        var components = URLComponents(url: url, resolvingAgainstBaseURL: false)
        let user = components?.user?.removingPercentEncoding, password = components?.password?.removingPercentEncoding
        authorization = user.map { "Basic " + Data("\($0):\(password ?? "")".utf8).base64EncodedString() }
        components?.user = nil
        components?.password = nil
        base = components?.url ?? url
    }

    var description: String { base.absoluteString }

    struct Queue: Decodable {
        struct Rate: Decodable { var rate: Double? }
        struct Stats: Decodable {
            var publishDetails: Rate?
            var deliverGetDetails: Rate?
            var ackDetails: Rate?
            enum CodingKeys: String, CodingKey {
                case publishDetails = "publish_details", deliverGetDetails = "deliver_get_details", ackDetails = "ack_details"
            }
        }
        var name: String
        var messagesReady: Int?
        var messagesUnacknowledged: Int?
        var consumers: Int?
        var messageStats: Stats?
        enum CodingKeys: String, CodingKey {
            case name, messagesReady = "messages_ready", messagesUnacknowledged = "messages_unacknowledged", consumers
            case messageStats = "message_stats"
        }
    }

    func queues(virtualHost: String = "/") async throws -> [QueueRow] {
        let vhost = virtualHost.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "%2F"
        // Written out rather than appended as a path component, which would encode the % of %2F again.
        guard let url = URL(string: base.absoluteString.trimmingSuffix("/") + "/api/queues/\(vhost)?msg_rates_age=30&msg_rates_incr=5") else {
            throw HalfsizeError(.invalidConfiguration, "cannot build a management API URL from \(self)")
        }
        var request = URLRequest(url: url, timeoutInterval: 5)
        if let authorization { request.setValue(authorization, forHTTPHeaderField: "Authorization") }
        let (data, response) = try await URLSession.shared.data(for: request)
        let status = (response as? HTTPURLResponse)?.statusCode ?? 0
        guard status == 200 else {
            throw HalfsizeError(.brokerUnavailable, "the RabbitMQ management API at \(self) answered HTTP \(status)")
        }
        return try JSONDecoder().decode([Queue].self, from: data).map { queue in
            QueueRow(name: queue.name, ready: queue.messagesReady, unacked: queue.messagesUnacknowledged, consumers: queue.consumers,
                     publishRate: queue.messageStats?.publishDetails?.rate, deliverRate: queue.messageStats?.deliverGetDetails?.rate,
                     ackRate: queue.messageStats?.ackDetails?.rate)
        }
    }
}

extension String {
    func trimmingSuffix(_ suffix: String) -> String {
        var text = self
        while text.hasSuffix(suffix) { text.removeLast(suffix.count) }
        return text
    }
}
