import HalfsizeCore
import Pipeline

/// csv-writer's settings; each key is documented where it is read.
struct CSVWriterSettings: ProgramSettingsProtocol {
    var common: CommonSettings
    var prefetch: Int
    var reapAfter: Duration

    init(reading reader: ConfigurationReader) {
        common = CommonSettings(reading: reader)
        prefetch = reader.integer("HALFSIZE_PREFETCH", default: 4, in: 1...256, "csv messages taken from the queue before they are acked")
        reapAfter = .seconds(reader.integer("HALFSIZE_REAP_AFTER", default: 600, in: 5...86_400,
            "seconds a job may show no progress before its unsettled images are sent to their stage again (when its queues are empty)"))
    }
}

/// csv-writer writes output CSVs, records dead letters (halfsize.dead) and runs the reaper.
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
                let interval = min(Duration.seconds(30), settings.reapAfter / 4)
                return [PeriodicService(name: "reaper", every: interval, logger: logger) {
                    try await recovery.reap(olderThan: settings.reapAfter)
                }]
            }
        }
    }
}
