import Foundation
import HalfsizeCore
import Logging
import JobStore
import Messaging
import Storage

/// Settings every halfsize process reads. Each key is documented here, where it is read.
public struct CommonSettings: Sendable {
    public var brokerURL: URL
    public var brokerHeartbeatSeconds: Int
    public var databaseURL: String
    public var storage: StorageSettings
    public var publicURL: URL
    public var logLevel: Logger.Level
    public var databasePoolSize: Int
    public var databaseOptions: DatabaseOptions
    public var deliveryLimit: Int
    public var retryPolicy: RetryPolicy
    public var shutdownTimeout: Duration
    public var metricsAddress: ListenAddress?
    public var adminToken: String?

    public init(reading reader: ConfigurationReader) {
        brokerURL = reader.url("HALFSIZE_AMQP_URL", default: "amqp://guest:guest@127.0.0.1:5672/", schemes: ["amqp"],
                               "RabbitMQ to use: amqp://user:password@host:port/vhost")
        brokerHeartbeatSeconds = reader.integer("HALFSIZE_AMQP_HEARTBEAT", default: 30, in: 2...600,
            "seconds between AMQP heartbeats; the broker gives up on a silent connection (and requeues what it held) after two")
        databaseURL = reader.string("HALFSIZE_DATABASE_URL", default: "postgresql://halfsize@127.0.0.1:5432/halfsize",
                                    "PostgreSQL to use, as a libpq connection URI")
        if !(databaseURL.hasPrefix("postgresql://") || databaseURL.hasPrefix("postgres://")) {
            reader.reportProblem("HALFSIZE_DATABASE_URL must start with postgresql://, not \"\(databaseURL)\"")
        }
        storage = StorageSettings(reading: reader)
        publicURL = reader.url("HALFSIZE_PUBLIC_URL", default: "http://127.0.0.1:8080", schemes: ["http", "https"],
                               "the address people reach ingest at; output image and CSV URLs start with it")
        let level = reader.string("HALFSIZE_LOG_LEVEL", default: "info", "trace, debug, info, notice, warning, error or critical")
        if let parsed = Logger.Level(rawValue: level) {
            logLevel = parsed
        } else {
            logLevel = .info
            reader.reportProblem("HALFSIZE_LOG_LEVEL must be one of trace, debug, info, notice, warning, error, critical, not \"\(level)\"")
        }
        databasePoolSize = reader.integer("HALFSIZE_DATABASE_POOL", default: 4, in: 1...64, "database connections per process")
        databaseOptions = DatabaseOptions(
            connectTimeoutSeconds: reader.integer("HALFSIZE_DATABASE_CONNECT_TIMEOUT", default: 10, in: 1...300,
                                                  "seconds to wait for a database connection before it counts as down"),
            statementTimeoutMilliseconds: reader.integer("HALFSIZE_DATABASE_STATEMENT_TIMEOUT_MS", default: 30_000, in: 100...3_600_000,
                                                         "longest a database statement may run before it is cancelled"))
        deliveryLimit = reader.integer("HALFSIZE_DELIVERY_LIMIT", default: 20, in: 2...1000,
                                       "deliveries of one message (workers dying with it) before it is dead-lettered to halfsize.dead")
        let horizon = reader.integer("HALFSIZE_RETRY_HORIZON", default: 3600, in: 1...604_800,
                                     "seconds a fault of ours (database, storage, broker) is retried before the image fails")
        retryPolicy = RetryPolicy(horizon: .seconds(horizon))
        shutdownTimeout = .seconds(reader.integer("HALFSIZE_SHUTDOWN_TIMEOUT", default: 30, in: 1...3600,
                                                  "seconds a stopping process may take to finish what it holds"))
        metricsAddress = reader.address("HALFSIZE_METRICS_ADDR", default: "",
            "host:port of this process's Prometheus /metrics endpoint (ingest also serves /metrics on its HTTP port); empty: none")
        let token = reader.string("HALFSIZE_ADMIN_TOKEN", default: "",
            "bearer token the admin endpoints (queue view, /ops, /metrics) require; without it they answer loopback only")
        adminToken = token.isEmpty ? nil : token
        if let adminToken, adminToken.utf8.count < 16 {
            reader.reportProblem("HALFSIZE_ADMIN_TOKEN must be at least 16 characters")
        }
    }

    public func brokerEndpoint() throws(HalfsizeError) -> BrokerEndpoint {
        try BrokerEndpoint(url: brokerURL, heartbeatSeconds: brokerHeartbeatSeconds)
    }

    public var publicURLs: PublicURLs { PublicURLs(base: publicURL) }
}

/// The URLs people use, all under HALFSIZE_PUBLIC_URL.
public struct PublicURLs: Sendable {
    public var base: String

    public init(base: URL) {
        var text = base.absoluteString
        while text.hasSuffix("/") { text.removeLast() }
        self.base = text
    }

    public func status(_ reference: JobReference) -> String { "\(base)/api/v1/jobs/\(reference)" }
    public func outputCSV(_ reference: JobReference) -> String { "\(base)/api/v1/jobs/\(reference)/output.csv" }
    /// The output CSV's URL once the job is final and its files are kept; nil before and after.
    public func outputCSV(of report: JobReport) -> String? {
        report.status.isFinal && report.outputKey != nil && report.filesExpiredAt == nil ? outputCSV(report.reference) : nil
    }
    public func image(_ reference: JobReference, name: String) -> String { "\(base)/images/\(reference)/\(name)" }
}

/// Reads settings, prints help or the configuration error, and exits as a command-line tool should.
public enum ProgramSettings {
    public static func load<Settings>(program: String, summary: String,
                                      _ read: (ConfigurationReader) -> Settings) -> Settings {
        let reader = ConfigurationReader()
        let settings = read(reader)
        if reader.wantsHelp {
            print(reader.helpText(program: program, summary: summary))
            exit(0)
        }
        do {
            try reader.finish()
        } catch {
            FileHandle.standardError.write(Data("\(program): \(error)\nRun \(program) --help for the settings.\n".utf8))
            exit(2)
        }
        return settings
    }

    public static func bootstrapLogging(level: Logger.Level) {
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
    }
}

extension ConfigurationReader {
    /// `HALFSIZE_CA_BUNDLE`: private CAs (PEM) trusted for https downloads and webhooks besides
    /// the system's; checked at start so a wrong path fails then, not on every image.
    public func extraCertificateAuthorities() -> String? {
        let path = string("HALFSIZE_CA_BUNDLE", default: "",
                          "PEM file of private CA certificates trusted besides the system's, for https images and webhooks")
        guard !path.isEmpty else { return nil }
        guard let contents = FileManager.default.contents(atPath: path),
              String(decoding: contents, as: UTF8.self).contains("-----BEGIN CERTIFICATE-----") else {
            reportProblem("HALFSIZE_CA_BUNDLE must name a readable PEM file of certificates, not \"\(path)\"")
            return nil
        }
        return path
    }
}
