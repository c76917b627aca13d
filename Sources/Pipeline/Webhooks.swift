import CCrypto
import Fetching
import Foundation
import HalfsizeCore
import JobStore
import Logging
import Messaging
import ProductCSV

/// The webhook address given at upload: an absolute http(s) URL without credentials, checked as
/// image URLs are (and, like them, connected to only through the address guard).
public enum WebhookAddress {
    /// nil for no webhook (absent or blank); the URL when it is usable.
    public static func validated(_ text: String?) throws(HalfsizeError) -> String? {
        guard let url = text?.trimmingCharacters(in: .whitespacesAndNewlines), !url.isEmpty else { return nil }
        if let reason = ProductSheet.urlProblem(url) {
            throw HalfsizeError(.invalidWebhookURL, "webhook_url \(reason)")
        }
        return url
    }
}

/// `Halfsize-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>" with the secret>`.
/// The timestamp is signed with the body, so a receiver can refuse old (replayed) deliveries.
/// libcrypto's HMAC is used because it is already linked through libcurl; a Swift crypto
/// package would add BoringSSL to every build for one function.
public enum WebhookSignature {
    public static let header = "Halfsize-Signature"

    public static func value(body: [UInt8], secret: [UInt8], timestamp: Int) -> String {
        "t=\(timestamp),v1=\(hex(hmacSHA256(key: secret, message: Array("\(timestamp).".utf8) + body)))"
    }

    public static func hmacSHA256(key: [UInt8], message: [UInt8]) -> [UInt8] {
        var digest = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        _ = key.withUnsafeBytes { keyBytes in
            message.withUnsafeBufferPointer { messageBytes in
                HMAC(EVP_sha256(), keyBytes.baseAddress, Int32(keyBytes.count), messageBytes.baseAddress, messageBytes.count, &digest, &length)
            }
        }
        return Array(digest.prefix(Int(length)))
    }

    public static func hex(_ bytes: [UInt8]) -> String {
        bytes.map { String(format: "%02x", $0) }.joined()
    }
}

/// The body POSTed when a job ends.
struct WebhookPayload: Encodable {
    var reference: JobReference
    var status: JobStatus
    var images: JobReport.Counts
    var bytes: JobReport.Bytes
    var outputCSVURL: String?
    var finishedAt: String?
    var error: JobReport.JobError?

    enum CodingKeys: String, CodingKey {
        case reference, status, images, bytes, outputCSVURL = "output_csv_url", finishedAt = "finished_at", error
    }

    init(_ report: JobReport, urls: PublicURLs) {
        reference = report.reference
        status = report.status
        images = report.images
        bytes = report.bytes
        outputCSVURL = urls.outputCSV(of: report)
        finishedAt = report.finishedAt
        error = report.error
    }

    func encoded() -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // Strings, numbers and nested structs of them always encode.
        return Array(try! encoder.encode(self))
    }
}

/// How webhooks are delivered (csv-writer's `HALFSIZE_WEBHOOK_*` settings).
public struct WebhookSettings: Sendable {
    /// Signs every delivery when set.
    public var secret: [UInt8]?
    public var maximumAttempts: Int
    /// The wait after the first failed attempt, doubling after each (capped at 5 minutes).
    public var retryDelay: Duration

    public init(secret: [UInt8]?, maximumAttempts: Int = 5, retryDelay: Duration = .seconds(10)) {
        self.secret = secret
        self.maximumAttempts = maximumAttempts
        self.retryDelay = retryDelay
    }

    /// What follows a failed attempt: another after a growing delay (or the receiver's
    /// `Retry-After`, if longer), unless the attempts ran out or the address is refused.
    public func outcome(after error: any Error, attempt: Int) -> WebhookAttemptOutcome {
        let failure = error as? FetchFailure
        let cause = failure?.error ?? (error as? HalfsizeError) ?? HalfsizeError(.downloadFailed, "\(error)")
        let status = failure?.statusCode
        if cause.code == .blockedAddress || attempt >= maximumAttempts {
            return .failed(statusCode: status, error: cause)
        }
        let longest = Duration.seconds(Topology.delayTiers.last!)
        let delay = max(Backoff(base: retryDelay, cap: longest).delay(afterRetries: attempt - 1), failure?.retryAfter ?? .zero)
        return .retry(statusCode: status, error: cause, after: min(delay, longest))
    }
}

extension FinishedJob {
    /// The message that delivers the job's webhook, when it has one.
    public var webhookMessages: [OutgoingMessage] {
        notifies ? [OutgoingMessage(.webhook, StageMessage(job: reference, jobID: id))] : []
    }
}

/// csv-writer's consumer of `halfsize.webhook`: POSTs a finished job's summary to the webhook given
/// at upload. Each attempt is claimed and recorded in PostgreSQL; a failed one (no answer, or not
/// 2xx) comes back through the delay queues after a growing delay until the attempts run out. An
/// address the guard refuses fails at once. Faults of ours are retried by `StageWorker`.
public struct WebhookHandler: StageHandler {
    public let stage = Stage.webhook
    public let queue = StageQueue.webhook
    let store: JobStore
    let fetcher: Fetcher
    let urls: PublicURLs
    let settings: WebhookSettings
    /// Longer than a transfer may take, so a claimed attempt is not claimed again while it runs.
    static let lease = Duration.seconds(120)

    public init(store: JobStore, fetcher: Fetcher, urls: PublicURLs, settings: WebhookSettings) {
        self.store = store
        self.fetcher = fetcher
        self.urls = urls
        self.settings = settings
    }

    public func handle(_ message: StageMessage, logger: Logger) async throws -> [OutgoingMessage] {
        guard let delivery = try await store.claimWebhook(jobID: message.jobID, lease: Self.lease) else {
            logger.debug("webhook delivered, given up or not due; nothing to do")
            return []
        }
        guard let report = try await store.report(reference: delivery.reference) else { return [] }
        let body = WebhookPayload(report, urls: urls).encoded()
        var headers = ["Content-Type: application/json", "Halfsize-Event: job.finished",
                       "Halfsize-Delivery: \(delivery.reference)-\(report.finishedAt ?? "")-\(delivery.attempt)"]
        if let secret = settings.secret {
            let now = Int(Date().timeIntervalSince1970)
            headers.append("\(WebhookSignature.header): \(WebhookSignature.value(body: body, secret: secret, timestamp: now))")
        }
        let started = ContinuousClock.now
        let outcome: WebhookAttemptOutcome
        do {
            let answer = try await fetcher.send(.post(delivery.url, body: body, headers: headers))
            outcome = .delivered(statusCode: answer.statusCode)
        } catch {
            outcome = settings.outcome(after: error, attempt: delivery.attempt)
        }
        try await store.recordWebhookAttempt(delivery, outcome: outcome, duration: ContinuousClock.now - started)
        switch outcome {
        case .delivered(let status):
            logger.info("webhook delivered", metadata: ["attempt": "\(delivery.attempt)", "status": "\(status)"])
            return []
        case .retry(_, let error, let delay):
            logger.warning("webhook attempt failed; trying again later", metadata: [
                "attempt": "\(delivery.attempt)", "error.code": "\(error.code.rawValue)", "error": "\(error.message)",
                "retry_in_ms": "\(delay.inMilliseconds)",
            ])
            return [.delayed(.webhook, message, by: delay)]
        case .failed(_, let error):
            logger.error("webhook not delivered; giving up", metadata: [
                "attempt": "\(delivery.attempt)", "error.code": "\(error.code.rawValue)", "error": "\(error.message)",
            ])
            return []
        }
    }

    public func giveUp(_ message: StageMessage, error: HalfsizeError, logger: Logger) async throws -> [OutgoingMessage] {
        try await store.failWebhook(jobID: message.jobID)
        return []
    }
}
