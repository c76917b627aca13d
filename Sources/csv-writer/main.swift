import HalfsizeCore
import Pipeline

/// csv-writer's settings; each key is documented where it is read.
struct CSVWriterSettings: ProgramSettingsProtocol {
    var common: CommonSettings
    var prefetch: Int

    init(reading reader: ConfigurationReader) {
        common = CommonSettings(reading: reader)
        prefetch = reader.integer("HALFSIZE_PREFETCH", default: 4, in: 1...256, "csv messages taken from the queue before they are acked")
    }
}

@main
enum CSVWriter {
    static func main() async {
        await ProgramMain.run(program: "csv-writer", summary: "writes the output CSV of each finished job (halfsize.csv queue)",
                              read: CSVWriterSettings.init(reading:)) { settings, logger in
            let runtime = try await ProcessRuntime.start(settings: settings.common, logger: logger)
            let handler = CSVHandler(store: runtime.store, objects: runtime.objects, urls: settings.common.publicURLs)
            try await runtime.runWorker(handler, prefetch: settings.prefetch)
        }
    }
}
