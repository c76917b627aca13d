import Fetching
import HalfsizeCore
import Pipeline
import ServiceLifecycle

/// csv-writer's settings; each key is documented where it is read.
struct CSVWriterSettings: ProgramSettingsProtocol {
    var common: CommonSettings
    var prefetch: Int
    var reapAfter: Duration
    var retention: Duration
    var webhooks: WebhookSettings
    var webhookFetch: FetchSettings

    init(reading reader: ConfigurationReader) {
        common = CommonSettings(reading: reader)
        prefetch = reader.integer("HALFSIZE_PREFETCH", default: 4, in: 1...256, "csv messages taken from the queue before they are acked")
        reapAfter = .seconds(reader.integer("HALFSIZE_REAP_AFTER", default: 600, in: 5...86_400,
            "seconds a job may show no progress before its unsettled images are sent to their stage again (when its queues are empty)"))
        retention = reader.duration("HALFSIZE_RETENTION", default: "30d", in: .seconds(1)...(.seconds(3650 * 86_400)),
            "how long a finished job's files (upload, images, output CSV) are kept: 45s, 15m, 12h, 30d; the job's row stays")
        let secret = reader.string("HALFSIZE_WEBHOOK_SECRET", default: "",
            "key for the HMAC-SHA256 Halfsize-Signature header on webhook deliveries; empty: deliveries are not signed")
        if !secret.isEmpty, secret.utf8.count < 16 { reader.reportProblem("HALFSIZE_WEBHOOK_SECRET must be at least 16 characters") }
        webhooks = WebhookSettings(
            secret: secret.isEmpty ? nil : Array(secret.utf8),
            maximumAttempts: reader.integer("HALFSIZE_WEBHOOK_ATTEMPTS", default: 5, in: 1...20, "attempts to deliver a job's webhook before it is given up"),
            retryDelay: reader.duration("HALFSIZE_WEBHOOK_RETRY_DELAY", default: "10s", in: .seconds(1)...(.seconds(300)),
                "wait after a failed webhook attempt, doubling after each (at most 5 minutes)"))
        let timeout = reader.integer("HALFSIZE_WEBHOOK_TIMEOUT_MS", default: 10_000, in: 100...60_000, "time for one webhook delivery, connecting included")
        webhookFetch = FetchSettings(
            connectTimeoutMilliseconds: timeout, totalTimeoutMilliseconds: timeout, maximumBytes: 64 << 10, maximumRedirects: 0,
            maximumConcurrentTransfers: 16, maximumTransfersPerHost: 4,
            allowPrivateNetworks: reader.boolean("HALFSIZE_ALLOW_PRIVATE_NETWORKS", default: false,
                "allow webhooks to loopback and private addresses (refused with blocked_address otherwise), as for image downloads"),
            userAgent: "halfsize-webhook/1.0", extraCertificateAuthorities: reader.extraCertificateAuthorities())
    }
}

/// csv-writer writes output CSVs, delivers webhooks (halfsize.webhook), records dead letters
/// (halfsize.dead), and runs the reaper and the retention sweep.
@main
enum CSVWriter {
    static func main() async {
        await ProgramMain.run(program: "csv-writer", summary: "writes the output CSV of each finished job (halfsize.csv queue), records dead letters and reaps stalled work",
                              read: CSVWriterSettings.init(reading:)) { settings, logger in
            if settings.webhookFetch.allowPrivateNetworks {
                logger.warning("HALFSIZE_ALLOW_PRIVATE_NETWORKS is true: webhooks may be delivered to loopback and private addresses; never set it where uploads come from outside")
            }
            let runtime = try await ProcessRuntime.start(settings: settings.common, logger: logger)
            let handler = CSVHandler(store: runtime.store, objects: runtime.objects, urls: settings.common.publicURLs)
            let deadBroker = try runtime.broker(consuming: .dead, prefetch: 16)
            let deadLetters = DeadLetterWorker(broker: deadBroker, store: runtime.store, logger: logger)
            let fetcher = Fetcher(settings: settings.webhookFetch, logger: logger)
            let webhookBroker = try runtime.broker(consuming: .webhook, prefetch: 16)
            let webhooks = StageWorker(broker: webhookBroker, handler: WebhookHandler(store: runtime.store, fetcher: fetcher,
                                                                                    urls: settings.common.publicURLs, settings: settings.webhooks),
                                       policy: settings.common.retryPolicy, logger: logger)
            // Services stop in reverse order: the webhook worker before the fetcher and broker it uses.
            let extras: [any Service] = [deadBroker, deadLetters, fetcher, webhookBroker, webhooks]
            try await runtime.runWorker(handler, prefetch: settings.prefetch, extraServices: extras) { broker in
                let recovery = Recovery(store: runtime.store, broker: broker, logger: logger)
                return [
                    PeriodicService(name: "reaper", every: min(.seconds(30), settings.reapAfter / 4), logger: logger) {
                        try await recovery.reap(olderThan: settings.reapAfter)
                        try await recovery.resendOverdueWebhooks(olderThan: settings.reapAfter)
                    },
                    PeriodicService(name: "retention sweep", every: min(.seconds(300), settings.retention / 4), logger: logger) {
                        try await recovery.expireFiles(olderThan: settings.retention, objects: runtime.objects)
                    },
                ]
            }
        }
    }
}
