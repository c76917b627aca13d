import Fetching
import HalfsizeCore
import Pipeline

/// downloader's settings; each key is documented where it is read.
struct DownloaderSettings: ProgramSettingsProtocol {
    var common: CommonSettings
    var prefetch: Int
    var attempts: Int
    var niceness: Int
    var fetch: FetchSettings

    init(reading reader: ConfigurationReader) {
        common = CommonSettings(reading: reader)
        let transfers = reader.integer("HALFSIZE_DOWNLOAD_CONCURRENCY", default: 64, in: 1...1024, "downloads in flight at once in this process")
        prefetch = reader.integer("HALFSIZE_PREFETCH", default: transfers, in: 1...4096, "download messages taken from the queue before they are acked")
        fetch = FetchSettings(
            connectTimeoutMilliseconds: reader.integer("HALFSIZE_CONNECT_TIMEOUT_MS", default: 10_000, in: 100...600_000, "time to connect to an image server"),
            totalTimeoutMilliseconds: reader.integer("HALFSIZE_DOWNLOAD_TIMEOUT_MS", default: 60_000, in: 100...3_600_000, "time for a whole download, redirects included"),
            maximumBytes: reader.integer("HALFSIZE_MAX_DOWNLOAD_BYTES", default: 50 << 20, in: 1024...(1 << 31), "largest image accepted, in bytes"),
            maximumRedirects: reader.integer("HALFSIZE_MAX_REDIRECTS", default: 5, in: 0...20, "redirects followed per download"),
            maximumConcurrentTransfers: transfers,
            maximumTransfersPerHost: reader.integer("HALFSIZE_PER_HOST_CONNECTIONS", default: 8, in: 1...256,
                                                    "downloads in flight to one host at once (a polite client)"),
            allowPrivateNetworks: reader.boolean("HALFSIZE_ALLOW_PRIVATE_NETWORKS", default: false,
                                                 "allow downloads from loopback and private addresses (refused with blocked_address otherwise)"),
            extraCertificateAuthorities: reader.extraCertificateAuthorities())
        niceness = reader.integer("HALFSIZE_NICE", default: 10, in: 0...19,
                                  "CPU priority below the resizers' (nice value): downloads take the CPU the resizers leave on a shared machine")
        attempts = reader.integer("HALFSIZE_DOWNLOAD_ATTEMPTS", default: 5, in: 1...50,
                                  "tries of a download that fails transiently (timeout, reset, 408/425/429/5xx) before the image fails")
    }
}

@main
enum Downloader {
    static func main() async {
        await ProgramMain.run(program: "downloader", summary: "downloads the images of the halfsize.download queue",
                              read: DownloaderSettings.init(reading:)) { settings, logger in
            try ProcessPriority.lower(to: settings.niceness)
            if settings.fetch.allowPrivateNetworks {
                logger.warning("HALFSIZE_ALLOW_PRIVATE_NETWORKS is true: images may be fetched from loopback and private addresses; never set it where uploads come from outside")
            }
            let runtime = try await ProcessRuntime.start(settings: settings.common, logger: logger)
            let fetcher = Fetcher(settings: settings.fetch, logger: logger)
            let handler = DownloadHandler(store: runtime.store, objects: runtime.objects, fetcher: fetcher, maximumAttempts: settings.attempts)
            try await runtime.runWorker(handler, prefetch: settings.prefetch, extraServices: [fetcher])
        }
    }
}
