import Fetching
import HalfsizeCore
import ImageCodecs
import JobStore
import Logging
import Messaging
import Storage

/// Downloader stage: fetches the image, checks from its bytes that it is JPEG or PNG, stores the
/// original and hands the item to the resizer. A download that cannot succeed settles the item
/// as failed with its code.
public struct DownloadHandler: StageHandler {
    public let stage = Stage.downloader
    public let queue = StageQueue.download
    let store: JobStore
    let objects: any ObjectStore
    let fetcher: Fetcher

    public init(store: JobStore, objects: any ObjectStore, fetcher: Fetcher) {
        self.store = store
        self.objects = objects
        self.fetcher = fetcher
    }

    public func handle(_ message: StageMessage, logger: Logger) async throws -> [OutgoingMessage] {
        guard let itemID = message.itemID, let item = try await store.item(itemID) else {
            logger.warning("no such item; dropping the message")
            return []
        }
        let resize = [OutgoingMessage(.resize, message)]
        switch item.status {
        case .downloaded:
            return resize  // stored before a crash; the resize message may not have gone out
        case .resized, .failed:
            return try await store.awaitsOutput(jobID: item.jobID) ? [OutgoingMessage(.csv, StageMessage(job: item.jobReference, jobID: item.jobID))] : []
        case .pending:
            break
        }
        let resource: FetchedResource
        do {
            resource = try await fetcher.fetch(item.sourceURL)
        } catch let error as HalfsizeError where error.code != .databaseError {
            return try await fail(item, error, logger: logger)
        }
        let format = ImageFormat.detect(resource.bytes)
        guard format.isSupported else {
            let type = resource.contentType.map { " (served as \($0))" } ?? ""
            return try await fail(item, HalfsizeError(.unsupportedFormat, "the file is \(format.displayName)\(type), not JPEG or PNG"), logger: logger)
        }
        let name = ObjectKey.imageName(row: item.rowNumber, position: item.position, extension: format.fileExtension)
        let rawKey = ObjectKey.raw(item.jobReference, name: name)
        try await objects.put(rawKey, resource.bytes)
        _ = try await store.markDownloaded(itemID: item.id, jobID: item.jobID, format: format.rawValue, rawKey: rawKey, bytes: resource.bytes.count)
        logger.debug("downloaded", metadata: ["bytes": "\(resource.bytes.count)", "format": "\(format.rawValue)"])
        return resize
    }

    func fail(_ item: ItemRecord, _ error: HalfsizeError, logger: Logger) async throws -> [OutgoingMessage] {
        logger.info("download failed", metadata: ["error.code": "\(error.code.rawValue)", "error": "\(error.message)", "url": "\(item.sourceURL)"])
        let settlement = try await store.settleItem(itemID: item.id, jobID: item.jobID, outcome: .failed(error), stage: stage)
        return store.csvMessageIfReady(settlement, job: item.jobReference, jobID: item.jobID)
    }
}
