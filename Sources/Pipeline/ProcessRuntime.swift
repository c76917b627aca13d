import Foundation
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

    /// Connects to the database, waiting up to `databasePatience` for it to come up, and applies migrations.
    public static func start(settings: CommonSettings, logger: Logger, databasePatience: Duration = .seconds(30)) async throws -> ProcessRuntime {
        let pool = DatabasePool(url: settings.databaseURL, size: settings.databasePoolSize, logger: logger)
        let deadline = ContinuousClock.now + databasePatience
        while true {
            do {
                try await Migrations.apply(on: pool, logger: logger)
                break
            } catch let error as DatabaseError where error.connectionLost && ContinuousClock.now < deadline {
                logger.notice("waiting for the database", metadata: ["error": "\(error)"])
                try await Task.sleep(for: .seconds(1))
            }
        }
        let objects = try LocalDirectoryStore(root: settings.dataDirectory)
        return ProcessRuntime(settings: settings, logger: logger, pool: pool, store: JobStore(pool: pool), objects: objects)
    }

    public func broker(consuming queue: StageQueue?, prefetch: Int) throws -> BrokerConnection {
        BrokerConnection(endpoint: try settings.brokerEndpoint(),
                         topology: BrokerTopology(consumedQueue: queue?.rawValue, prefetch: prefetch),
                         logger: logger)
    }

    /// Runs services until SIGTERM or SIGINT; they stop in reverse order, so list the broker
    /// connection before the worker that uses it.
    public func run(_ services: [any Service]) async throws {
        let group = ServiceGroup(configuration: .init(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
        try await pool.shutdown()
    }

    /// A worker process: consume `handler`'s queue with the given prefetch until told to stop.
    public func runWorker(_ handler: any StageHandler, prefetch: Int, extraServices: [any Service] = []) async throws {
        let broker = try broker(consuming: handler.queue, prefetch: prefetch)
        let worker = StageWorker(broker: broker, handler: handler, logger: logger)
        try await run(extraServices + [broker, worker])
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
        let logger = Logger(label: "halfsize.\(program)")
        do {
            try await body(settings, logger)
        } catch {
            let code = (error as? HalfsizeError)?.code.rawValue ?? "error"
            logger.critical("\(program) stopped", metadata: ["error.code": "\(code)", "error": "\(error)"])
            exit(1)
        }
    }
}
