import Foundation
import HalfsizeCore
import Logging
import Messaging

/// Settings every halfsize process reads. Each key is documented here, where it is read.
public struct CommonSettings: Sendable {
    public var brokerURL: URL
    public var databaseURL: String
    public var dataDirectory: URL
    public var publicURL: URL
    public var logLevel: Logger.Level
    public var databasePoolSize: Int

    public init(reading reader: ConfigurationReader) {
        brokerURL = reader.url("HALFSIZE_AMQP_URL", default: "amqp://guest:guest@127.0.0.1:5672/", schemes: ["amqp"],
                               "RabbitMQ to use: amqp://user:password@host:port/vhost")
        databaseURL = reader.string("HALFSIZE_DATABASE_URL", default: "postgresql://halfsize@127.0.0.1:5432/halfsize",
                                    "PostgreSQL to use, as a libpq connection URI")
        if !(databaseURL.hasPrefix("postgresql://") || databaseURL.hasPrefix("postgres://")) {
            reader.reportProblem("HALFSIZE_DATABASE_URL must start with postgresql://, not \"\(databaseURL)\"")
        }
        dataDirectory = URL(fileURLWithPath: reader.string("HALFSIZE_DATA_DIR", default: ".data/files",
                                                           "directory for uploads, downloaded originals, resized images and output CSVs"))
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
    }

    public func brokerEndpoint() throws(HalfsizeError) -> BrokerEndpoint {
        try BrokerEndpoint(url: brokerURL)
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
