import Foundation
import HalfsizeCore
import Hummingbird
import Logging
import Operations
import Pipeline
import ProductCSV

/// ingest's settings; each key is documented where it is read.
public struct IngestSettings: ProgramSettingsProtocol {
    public var common: CommonSettings
    public var address: ListenAddress
    public var maximumUploadBytes: Int
    public var relayAfter: Duration
    public var managementURL: URL?
    public var limits: ValidationLimits

    public init(reading reader: ConfigurationReader) {
        common = CommonSettings(reading: reader)
        address = reader.address("HALFSIZE_HTTP_ADDR", default: "127.0.0.1:8080", "host:port the HTTP server listens on")
            ?? ListenAddress(host: "127.0.0.1", port: 8080)
        maximumUploadBytes = reader.integer("HALFSIZE_MAX_UPLOAD_BYTES", default: 32 << 20, in: 1024...(1 << 30), "largest CSV upload, in bytes")
        let management = reader.string("HALFSIZE_RABBITMQ_MANAGEMENT_URL", default: "",
            "RabbitMQ's management API (http://user:password@host:15672/) for the queue view's rates and unacked counts; without it, depth and consumers only")
        managementURL = management.isEmpty ? nil : reader.url("HALFSIZE_RABBITMQ_MANAGEMENT_URL", default: "http://127.0.0.1:15672/",
                                                              schemes: ["http", "https"], "")
        limits = ValidationLimits(
            maximumRows: reader.integer("HALFSIZE_MAX_ROWS", default: 100_000, in: 1...10_000_000, "most product rows in one upload"),
            maximumURLsPerRow: reader.integer("HALFSIZE_MAX_URLS_PER_ROW", default: 50, in: 1...10_000, "most image URLs of one product"))
        relayAfter = .seconds(reader.integer("HALFSIZE_RELAY_AFTER", default: 10, in: 1...3600,
            "seconds a stored job may stay unpublished (its ingest died, or the broker was away) before the relay publishes it"))
    }
}

public enum IngestServer {
    public static func run(settings: IngestSettings, logger: Logger) async throws {
        let runtime = try await ProcessRuntime.start(settings: settings.common, logger: logger)
        let broker = try runtime.broker(consuming: nil, prefetch: 1)
        let intake = JobIntake(store: runtime.store, objects: runtime.objects, broker: broker, limits: settings.limits, logger: logger)
        let queues = QueueMonitor(managementURL: settings.managementURL, broker: broker, store: runtime.store, objects: runtime.objects)
        logger.info("queue view", metadata: ["source": "\(queues.source)"])
        let throughput = ThroughputHistory()
        let sampler = PeriodicService(name: "throughput sampler", every: .seconds(5), logger: logger) {
            throughput.record(try await queues.overview())
        }
        let api = IngestAPI(intake: intake, store: runtime.store, objects: runtime.objects, broker: broker, queues: queues,
                            urls: settings.common.publicURLs, maximumUploadBytes: settings.maximumUploadBytes,
                            adminToken: settings.common.adminToken, pages: try await IngestAPI.loadPages(), contract: try IngestAPI.loadContract(),
                            throughput: throughput)
        let application = Application(
            router: api.router(),
            configuration: .init(address: .hostname(settings.address.host, port: settings.address.port), serverName: "halfsize"),
            onServerRunning: { channel in
                logger.info("listening", metadata: ["address": "\(channel.localAddress?.description ?? "?")"])
            },
            logger: logger)
        let recovery = Recovery(store: runtime.store, broker: broker, logger: logger)
        let relay = PeriodicService(name: "outbox relay", every: .seconds(2), logger: logger) {
            try await recovery.relay(olderThan: settings.relayAfter)
        }
        // The server stops first, then the relay, then the broker connection they publish through.
        try await runtime.run([broker, relay, sampler, application], broker: broker)
    }
}
