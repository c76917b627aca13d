import HalfsizeCore
import Pipeline

/// csv-writer's settings; each key is documented where it is read.
struct CSVWriterSettings: ProgramSettingsProtocol {
    var common: CommonSettings
    var prefetch: Int
    var reapAfter: Duration
    var retention: Duration

    init(reading reader: ConfigurationReader) {
        common = CommonSettings(reading: reader)
        prefetch = reader.integer("HALFSIZE_PREFETCH", default: 4, in: 1...256, "csv messages taken from the queue before they are acked")
        reapAfter = .seconds(reader.integer("HALFSIZE_REAP_AFTER", default: 600, in: 5...86_400,
            "seconds a job may show no progress before its unsettled images are sent to their stage again (when its queues are empty)"))
        retention = reader.duration("HALFSIZE_RETENTION", default: "30d", in: .seconds(1)...(.seconds(3650 * 86_400)),
            "how long a finished job's files (upload, images, output CSV) are kept: 45s, 15m, 12h, 30d; the job's row stays")
    }
}

/// csv-writer writes output CSVs, records dead letters (halfsize.dead), and runs the reaper and the
/// retention sweep.
@main
enum CSVWriter {
    static func main() async {
        await ProgramMain.run(program: "csv-writer", summary: "writes the output CSV of each finished job (halfsize.csv queue), records dead letters and reaps stalled work",
                              read: CSVWriterSettings.init(reading:)) { settings, logger in
            let runtime = try await ProcessRuntime.start(settings: settings.common, logger: logger)
            let handler = CSVHandler(store: runtime.store, objects: runtime.objects, urls: settings.common.publicURLs)
            let deadBroker = try runtime.broker(consuming: .dead, prefetch: 16)
            let deadLetters = DeadLetterWorker(broker: deadBroker, store: runtime.store, logger: logger)
            try await runtime.runWorker(handler, prefetch: settings.prefetch, extraServices: [deadBroker, deadLetters]) { broker in
                let recovery = Recovery(store: runtime.store, broker: broker, logger: logger)
                return [
                    PeriodicService(name: "reaper", every: min(.seconds(30), settings.reapAfter / 4), logger: logger) {
                        try await recovery.reap(olderThan: settings.reapAfter)
                    },
                    PeriodicService(name: "retention sweep", every: min(.seconds(300), settings.retention / 4), logger: logger) {
                        try await recovery.expireFiles(olderThan: settings.retention, objects: runtime.objects)
                    },
                ]
            }
        }
    }
}
