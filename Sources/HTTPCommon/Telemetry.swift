import Hummingbird
import Logging
import Metrics
import NIOCore
import Prometheus
import ServiceLifecycle

/// The process's metrics. Library targets record through swift-metrics' API (`Counter`, `Timer`,
/// `Gauge`); `bootstrap()` sends all of it to one Prometheus registry, which `/metrics` serves as
/// Prometheus text. Without the bootstrap (tests that run stages in-process) nothing is recorded.
public enum Telemetry {
    public static let registry = PrometheusCollectorRegistry()

    /// Once per process, before any metric is made.
    public static func bootstrap() {
        var factory = PrometheusMetricsFactory(registry: registry)
        // From a 1 ms database round trip to a 30 s download.
        factory.defaultDurationHistogramBuckets = [1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10_000, 30_000]
            .map { Duration.microseconds(Int64($0 * 1000)) }
        factory.nameAndLabelSanitizer = renamingHummingbirdMetrics
        MetricsSystem.bootstrap(factory)
    }

    /// Hummingbird's `MetricsMiddleware` names its metrics after OpenTelemetry's conventions;
    /// these give them halfsize's prefix and Prometheus's spelling.
    static let hummingbirdNames: [String: String] = [
        "hb.requests": "halfsize_http_requests_total",
        "hb.request.errors": "halfsize_http_request_errors_total",
        "http.server.request.duration": "halfsize_http_request_duration_seconds",
        "http.server.active_requests": "halfsize_http_active_requests",
    ]
    static let hummingbirdLabels: [String: String] = [
        "http.route": "route", "http.request.method": "method", "http.response.status_code": "status", "error.type": "status",
    ]

    @Sendable static func renamingHummingbirdMetrics(_ name: String, _ labels: [(String, String)]) -> (String, [(String, String)]) {
        guard let renamed = hummingbirdNames[name] else { return (name, labels) }
        return (renamed, labels.map { (hummingbirdLabels[$0.0] ?? $0.0, $0.1) })
    }

    /// The Prometheus text exposition of everything recorded so far.
    public static func exposition() -> Response {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(16 << 10)
        registry.emit(into: &bytes)
        return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                        body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
    }
}

/// Whether a process can do its work: its broker connection is up and the database answers.
/// Ingest serves it at `/healthz` on its HTTP port, a worker on its metrics port (open to anyone:
/// it tells nothing but up or down). 200 or 503 with each part's state, for load balancers,
/// Docker's HEALTHCHECK and Kubernetes' readiness probe.
public struct HealthCheck: Sendable {
    public var brokerConnected: @Sendable () -> Bool
    public var pingDatabase: @Sendable () async throws -> Void

    public init(brokerConnected: @escaping @Sendable () -> Bool, pingDatabase: @escaping @Sendable () async throws -> Void) {
        self.brokerConnected = brokerConnected
        self.pingDatabase = pingDatabase
    }

    public func response() async -> Response {
        let brokerUp = brokerConnected()
        var databaseProblem: String?
        do { try await pingDatabase() } catch { databaseProblem = "\(error)" }
        let healthy = brokerUp && databaseProblem == nil
        let payload: [String: JSONValue] = [
            "status": .string(healthy ? "ok" : "unavailable"),
            "broker": .string(brokerUp ? "ok" : "disconnected"),
            "database": .string(databaseProblem ?? "ok"),
        ]
        return JSONBody.response(healthy ? .ok : .serviceUnavailable, payload)
    }
}

/// A worker's `/metrics` endpoint on `HALFSIZE_METRICS_ADDR`, behind the admin guard, and its
/// `/healthz`.
public enum MetricsServer {
    public static func make(host: String, port: Int, adminToken: String?, health: HealthCheck, logger: Logger) -> some Service {
        let router = Router(context: PeerRequestContext.self)
        router.group("/metrics").add(middleware: AdminAccessMiddleware(token: adminToken)).get { _, _ in Telemetry.exposition() }
        router.get("/healthz") { _, _ in await health.response() }
        return Application(router: router, configuration: .init(address: .hostname(host, port: port), serverName: "halfsize"),
                           onServerRunning: { channel in
                               logger.info("metrics endpoint listening", metadata: ["address": "\(channel.localAddress?.description ?? "?")"])
                           }, logger: logger)
    }
}
