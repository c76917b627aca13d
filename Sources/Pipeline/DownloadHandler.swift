import Fetching
import HalfsizeCore
import ImageCodecs
import JobStore
import Logging
import Messaging
import Storage

/// Downloader stage: fetches the image, checks from its bytes that it can be halved, stores the
/// original and hands the item to the resizer. A supplier's transient failure (timeout, reset,
/// 408/425/429/5xx) is tried again through a delay queue, honouring `Retry-After`, up to
/// `maximumAttempts`; a permanent one settles the item as failed with its code at once.
public struct DownloadHandler: StageHandler {
    public let stage = Stage.downloader
    public let queue = StageQueue.download
    let store: JobStore
    let objects: any ObjectStore
    let fetcher: Fetcher
    let maximumAttempts: Int
    let backoff: Backoff

    public init(store: JobStore, objects: any ObjectStore, fetcher: Fetcher, maximumAttempts: Int = 5,
                backoff: Backoff = Backoff(base: .seconds(1), cap: .seconds(60))) {
        self.store = store
        self.objects = objects
        self.fetcher = fetcher
        self.maximumAttempts = maximumAttempts
        self.backoff = backoff
    }

    public func handle(_ message: StageMessage, logger: Logger) async throws -> [OutgoingMessage] {
        guard let itemID = message.itemID else {
            logger.warning("no item in the message; dropping it")
            return []
        }
        // A message that names its URL is downloaded at once: the conditional update that records
        // the download finds a redelivery, and only then (or on a failure) is the item read.
        if let place = ItemPlace(message), let url = message.item?.url {
            return try await download(place, from: url, message, logger: logger)
        }
        guard let item = try await store.item(itemID) else {
            logger.warning("no such item; dropping the message")
            return []
        }
        guard item.status == .pending else { return try await alreadyDownloaded(item, message) }
        return try await download(ItemPlace(item), from: item.sourceURL, message, logger: logger)
    }

    /// What a message for an item that is no longer pending leads to: the resize message again
    /// (stored before a crash, the resize message may not have gone out), or the csv message.
    func alreadyDownloaded(_ item: ItemRecord, _ message: StageMessage) async throws -> [OutgoingMessage] {
        switch item.status {
        case .downloaded:
            return [OutgoingMessage(.resize, ItemPlace(item).message(after: message, rawKey: item.rawKey))]
        case .resized, .failed:
            return try await store.csvMessageIfAwaitingOutput(item)
        case .pending:
            return []
        }
    }

    func download(_ place: ItemPlace, from url: String, _ message: StageMessage, logger: Logger) async throws -> [OutgoingMessage] {
        let resource: FetchedResource
        do {
            resource = try await fetcher.send(.get(url, headers: [ImageFormat.acceptHeader]))
        } catch let failure as FetchFailure {
            // Attempts so far decide whether to try again: read them (and whether this is a redelivery).
            guard let item = try await store.item(place.id) else { return [] }
            guard item.status == .pending else { return try await alreadyDownloaded(item, message) }
            return try await retryOrFail(item, message, failure, logger: logger)
        }
        let format = ImageFormat.detect(resource.bytes)
        guard format.isSupported else {
            let type = resource.contentType.map { " (served as \($0))" } ?? ""
            return try await fail(place, url: url, HalfsizeError(.unsupportedFormat, "the file is \(format.displayName)\(type), not \(ImageFormat.supportedNames)"), logger: logger)
        }
        let name = ObjectKey.imageName(row: place.row, position: place.position, extension: format.fileExtension)
        let rawKey = ObjectKey.raw(place.reference, name: name)
        try await objects.put(rawKey, resource.bytes)
        guard try await store.markDownloaded(itemID: place.id, jobID: place.jobID, format: format.rawValue, rawKey: rawKey, bytes: resource.bytes.count) else {
            guard let item = try await store.item(place.id) else { return [] }
            return try await alreadyDownloaded(item, message)
        }
        logger.debug("downloaded", metadata: ["bytes": "\(resource.bytes.count)", "format": "\(format.rawValue)"])
        return [OutgoingMessage(.resize, place.message(after: message, rawKey: rawKey))]
    }

    func retryOrFail(_ item: ItemRecord, _ message: StageMessage, _ failure: FetchFailure, logger: Logger) async throws -> [OutgoingMessage] {
        switch failure.kind {
        case .throttled:
            // Nothing was requested, so no attempt is counted: come back when the host has cooled down.
            return [.delayed(queue, message, by: failure.retryAfter ?? .seconds(1))]
        case .transient where item.attempts + 1 < maximumAttempts:
            let delay = failure.retryAfter ?? backoff.delay(afterRetries: item.attempts)
            logger.info("download failed; trying again later", metadata: [
                "error.code": "\(failure.error.code.rawValue)", "error": "\(failure.error.message)",
                "attempt": "\(item.attempts + 1)", "retry_in_ms": "\(delay.inMilliseconds)",
            ])
            try await store.recordRetry(itemID: item.id, jobID: item.jobID, error: failure.error, retryIn: delay)
            return [.delayed(queue, message, by: delay)]
        case .transient:
            let attempts = item.attempts + 1
            return try await fail(ItemPlace(item), url: item.sourceURL, HalfsizeError(failure.error.code, "\(failure.error.message) (gave up after \(attempts) attempts)"), logger: logger)
        case .permanent:
            return try await fail(ItemPlace(item), url: item.sourceURL, failure.error, logger: logger)
        }
    }

    public func giveUp(_ message: StageMessage, error: HalfsizeError, logger: Logger) async throws -> [OutgoingMessage] {
        guard let itemID = message.itemID else { return [] }
        return try await store.failItem(itemID, error, stage: stage)
    }

    func fail(_ place: ItemPlace, url: String, _ error: HalfsizeError, logger: Logger) async throws -> [OutgoingMessage] {
        logger.info("download failed", metadata: ["error.code": "\(error.code.rawValue)", "error": "\(error.message)", "url": "\(url)"])
        let settlement = try await store.settleItem(itemID: place.id, jobID: place.jobID, outcome: .failed(error), stage: stage)
        if settlement.applied { ImageMetrics.settled(.failed(error), format: nil, stage: stage) }
        return store.csvMessageIfReady(settlement, job: place.reference, jobID: place.jobID)
    }
}
