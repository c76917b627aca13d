import Foundation
import HTTPCommon
import HalfsizeCore
import JobStore
import Logging
import Messaging
import ServiceLifecycle
import Storage

/// What every halfsize process sets up the same way: the database pool (with migrations applied),
/// the object store, broker connections, and a service group that stops on SIGTERM or SIGINT.
public struct ProcessRuntime: Sendable {
    public let settings: CommonSettings
    public let logger: Logger
    public let pool: DatabasePool
    public let store: JobStore
    public let objects: any ObjectStore

    /// Connects to the database (applying migrations) and to the object store, waiting with
    /// growing pauses for as long as either is away: a process started during an outage comes up
    /// when they do. A wrong setting (a missing bucket, refused keys) stops it at once.
    public static func start(settings: CommonSettings, logger: Logger) async throws -> ProcessRuntime {
        let pool = DatabasePool(url: settings.databaseURL, size: settings.databasePoolSize, options: settings.databaseOptions, logger: logger)
        try await waitFor("the database", logger: logger, while: { ($0 as? DatabaseError)?.connectionLost == true }) {
            try await Migrations.apply(on: pool, logger: logger)
        }
        let objects = try await waitFor("object storage", logger: logger, while: { ($0 as? HalfsizeError)?.code == .storageError }) {
            try await settings.storage.makeStore()
        }
        logger.info("storing files in \(settings.storage.description)")
        return ProcessRuntime(settings: settings, logger: logger, pool: pool, store: JobStore(pool: pool), objects: objects)
    }

    static func waitFor<Value>(_ what: String, logger: Logger, while isOutage: (any Error) -> Bool,
                               _ body: () async throws -> Value) async throws -> Value {
        var retries = 0
        while true {
            do {
                return try await body()
            } catch where isOutage(error) {
                let delay = Backoff(base: .milliseconds(500), cap: .seconds(10)).delay(afterRetries: retries)
                logger.notice("waiting for \(what)", metadata: ["error": "\(error)", "retry_in_ms": "\(delay.inMilliseconds)"])
                try await Task.sleep(for: delay)
                retries += 1
            }
        }
    }

    public func broker(consuming queue: StageQueue?, prefetch: Int) throws -> BrokerConnection {
        BrokerConnection(endpoint: try settings.brokerEndpoint(),
                         topology: BrokerTopology(consumedQueue: queue?.rawValue, prefetch: prefetch, deliveryLimit: settings.deliveryLimit),
                         logger: logger)
    }

    /// Runs services until SIGTERM or SIGINT; they stop in reverse order, so list the broker
    /// connection before the worker that uses it. Graceful shutdown is bounded by
    /// `shutdownTimeout`: then what is left is cancelled, and the broker redelivers what was held.
    /// With `HALFSIZE_METRICS_ADDR` set, the metrics endpoint (and `/healthz`, on `broker` and the
    /// database) runs first and stops last.
    public func run(_ services: [any Service], broker: BrokerConnection) async throws {
        var services = services
        if let address = settings.metricsAddress {
            let health = HealthCheck(brokerConnected: { broker.isConnected }, pingDatabase: { [store] in try await store.ping() })
            services.insert(MetricsServer.make(host: address.host, port: address.port, adminToken: settings.adminToken,
                                               health: health, logger: logger), at: 0)
        }
        var configuration = ServiceGroupConfiguration(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        configuration.maximumGracefulShutdownDuration = settings.shutdownTimeout
        configuration.maximumCancellationDuration = .seconds(5)
        let group = ServiceGroup(configuration: configuration)
        try await group.run()
        try await pool.shutdown()
    }

    /// A worker process: consume `handler`'s queue with the given prefetch until told to stop.
    /// `alongside` builds services that use the worker's broker connection (they stop before it,
    /// after the worker).
    public func runWorker(_ handler: any StageHandler, prefetch: Int, extraServices: [any Service] = [],
                          alongside: (BrokerConnection) throws -> [any Service] = { _ in [] }) async throws {
        let broker = try broker(consuming: handler.queue, prefetch: prefetch)
        let worker = StageWorker(broker: broker, handler: handler, policy: settings.retryPolicy, logger: logger)
        try await run(extraServices + [broker] + alongside(broker) + [worker], broker: broker)
    }
}

/// A process's settings, which include the common ones.
public protocol ProgramSettingsProtocol: Sendable {
    var common: CommonSettings { get }
}

/// The `main` of every executable: settings, logging, run, and a clear message on failure.
public enum ProgramMain {
    public static func run<Settings: ProgramSettingsProtocol>(program: String, summary: String, read: (ConfigurationReader) -> Settings,
                                                              body: @Sendable (Settings, Logger) async throws -> Void) async {
        let settings = ProgramSettings.load(program: program, summary: summary, read)
        ProgramSettings.bootstrapLogging(level: settings.common.logLevel)
        Telemetry.bootstrap()
        let logger = Logger(label: "halfsize.\(program)")
        if settings.common.adminToken == nil {
            logger.notice("HALFSIZE_ADMIN_TOKEN is not set: admin endpoints (queue view, /ops, /metrics) answer loopback peers only")
        }
        do {
            try await body(settings, logger)
        } catch {
            let code = (error as? HalfsizeError)?.code.rawValue ?? "error"
            logger.critical("\(program) stopped", metadata: ["error.code": "\(code)", "error": "\(error)"])
            exit(1)
        }
    }
}
