import HTTPAPI
import HalfsizeCore
import Pipeline

@main
enum Ingest {
    static func main() async {
        await ProgramMain.run(program: "ingest", summary: "serves the upload and status API, output CSVs, images and pages",
                              read: IngestSettings.init(reading:)) { settings, logger in
            try await IngestServer.run(settings: settings, logger: logger)
        }
    }
}
