import Foundation
import HalfsizeCore
import ImageCodecs
import NIOPosix
import Pipeline

/// resizer's settings; each key is documented where it is read.
struct ResizerSettings: ProgramSettingsProtocol {
    var common: CommonSettings
    var concurrency: Int
    var prefetch: Int
    var options: HalvingOptions
    var halveFiles: [String]?
    var outputDirectory: URL
    var keepOriginals: Bool

    init(reading reader: ConfigurationReader) {
        common = CommonSettings(reading: reader)
        concurrency = reader.integer("HALFSIZE_CONCURRENCY", default: ProcessInfo.processInfo.activeProcessorCount, in: 1...256,
                                     "images halved at once (worker threads); the default is the number of cores")
        // Eight per thread: an image holds its message while it waits on storage, the database (its
        // settle gathered with others for up to 10 ms) and the broker (its ack for up to 20 ms), so
        // every thread still has the next image to halve (with four the CPU stood 11% idle).
        prefetch = reader.integer("HALFSIZE_PREFETCH", default: concurrency * 8, in: 1...4096,
                                  "resize messages taken from the queue before they are acked")
        options = HalvingOptions(
            quality: reader.integer("HALFSIZE_QUALITY", default: 85, in: 1...100, "JPEG output quality"),
            optimizeHuffman: reader.boolean("HALFSIZE_OPTIMIZE_HUFFMAN", default: false,
                                            "fit JPEG Huffman tables to each image: about 3% smaller, about a quarter slower"),
            maximumPixels: reader.integer("HALFSIZE_MAX_PIXELS", default: 50_000_000, in: 1...1_000_000_000,
                                          "largest image accepted, in pixels, checked from the header before decoding"),
            maximumScans: reader.integer("HALFSIZE_MAX_SCANS", default: 100, in: 1...10_000, "most progressive JPEG scans accepted"),
            pngCompressionLevel: reader.integer("HALFSIZE_PNG_LEVEL", default: 6, in: 0...12, "libdeflate level of PNG output (0 stores, 12 is smallest and slowest)"),
            maximumFrames: reader.integer("HALFSIZE_MAX_FRAMES", default: 1000, in: 1...100_000,
                                          "most frames of an animation accepted (width x height x frames is also bounded by HALFSIZE_MAX_PIXELS)"),
            outputFormat: Self.outputFormat(reader))
        keepOriginals = reader.boolean("HALFSIZE_KEEP_ORIGINALS", default: false,
                                       "keep each downloaded original after its image settled (else it is deleted at once)")
        let outputDirectory = reader.string("HALFSIZE_OUT", default: "halved", "with `resizer halve`: the directory results are written to")
        self.outputDirectory = URL(fileURLWithPath: outputDirectory)
        if reader.positional.first == "halve" {
            halveFiles = Array(reader.positional.dropFirst())
        } else if let unexpected = reader.positional.first {
            reader.reportProblem("unknown command \(unexpected); the only command is `halve FILE…`")
        }
    }
}

extension ResizerSettings {
    static func outputFormat(_ reader: ConfigurationReader) -> OutputFormat {
        let text = reader.string("HALFSIZE_OUTPUT_FORMAT", default: "keep",
            "keep (each output in its input's family: JPEG, PNG, WebP, GIF, AVIF; TIFF and BMP as JPEG or PNG), or jpeg, png or webp for every output")
        guard let format = OutputFormat(rawValue: text.lowercased()) else {
            reader.reportProblem("HALFSIZE_OUTPUT_FORMAT must be keep, jpeg, png or webp, not \"\(text)\"")
            return .keep
        }
        return format
    }
}

@main
enum Resizer {
    static func main() async {
        await ProgramMain.run(program: "resizer", summary: "halves the images of the halfsize.resize queue; `resizer halve FILE…` halves files",
                              read: ResizerSettings.init(reading:)) { settings, logger in
            Halver.keepFreedBuffersForReuse()
            if let files = settings.halveFiles {
                exit(HalveCommand.run(files: files, outputDirectory: settings.outputDirectory, options: settings.options))
            }
            let runtime = try await ProcessRuntime.start(settings: settings.common, logger: logger)
            let workers = NIOThreadPool(numberOfThreads: settings.concurrency)
            workers.start()
            let handler = ResizeHandler(store: runtime.store, objects: runtime.objects, options: settings.options, workers: workers,
                                        keepOriginals: settings.keepOriginals)
            try await runtime.runWorker(handler, prefetch: settings.prefetch)
            try await workers.shutdownGracefully()
        }
    }
}
