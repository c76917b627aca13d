import HalfsizeCore
import ImageCodecs
import JobStore
import Logging
import Messaging
import NIOPosix
import Storage

/// Resizer stage: halves the stored original on a worker thread (never on the broker's I/O
/// thread or Swift's cooperative pool), stores the result and settles the item. The settlement
/// that counts the job's last image down publishes the csv message.
public struct ResizeHandler: StageHandler {
    public let stage = Stage.resizer
    public let queue = StageQueue.resize
    let store: JobStore
    let objects: any ObjectStore
    let options: HalvingOptions
    let workers: NIOThreadPool
    /// Keep each downloaded original after its image settled (for debugging); else it is deleted.
    let keepOriginals: Bool

    public init(store: JobStore, objects: any ObjectStore, options: HalvingOptions, workers: NIOThreadPool, keepOriginals: Bool = false) {
        self.store = store
        self.objects = objects
        self.options = options
        self.workers = workers
        self.keepOriginals = keepOriginals
    }

    public func handle(_ message: StageMessage, logger: Logger) async throws -> [OutgoingMessage] {
        guard let itemID = message.itemID else {
            logger.warning("no item in the message; dropping it")
            return []
        }
        // A message that names the stored original is halved at once (the settlement is
        // conditional, so a redelivery changes nothing); the item is read only when it names none
        // or the original is not there.
        if let place = ItemPlace(message), let rawKey = message.item?.rawKey, let original = try await objects.get(rawKey) {
            return try await halve(original, of: place, rawKey: rawKey, logger: logger)
        }
        guard let item = try await store.item(itemID) else {
            logger.warning("no such item; dropping the message")
            return []
        }
        guard item.status == .downloaded else {
            if item.status == .pending { logger.warning("item is not downloaded yet; dropping the message") }
            return try await store.csvMessageIfAwaitingOutput(item)
        }
        guard let rawKey = item.rawKey, let original = try await objects.get(rawKey) else {
            return try await settle(ItemPlace(item), rawKey: item.rawKey,
                                    .failed(HalfsizeError(.storageError, "the downloaded original is missing from storage")), logger: logger)
        }
        return try await halve(original, of: ItemPlace(item), rawKey: rawKey, logger: logger)
    }

    func halve(_ original: [UInt8], of place: ItemPlace, rawKey: String, logger: Logger) async throws -> [OutgoingMessage] {
        let options = self.options
        let halved: HalvedImage
        do {
            halved = try await workers.runIfActive { try Halver.halve(original, options: options) }
        } catch let error as HalfsizeError {
            logger.info("image cannot be halved", metadata: ["error.code": "\(error.code.rawValue)", "error": "\(error.message)"])
            return try await settle(place, rawKey: rawKey, .failed(error), logger: logger)
        }
        ImageMetrics.halved(halved, bytesIn: original.count)
        if let warning = halved.warning {
            logger.notice("decoder warnings", metadata: ["count": "\(halved.warningCount)", "first": "\(warning)"])
        }
        let name = ObjectKey.imageName(row: place.row, position: place.position, extension: halved.format.fileExtension)
        let outputKey = ObjectKey.image(place.reference, name: name)
        try await objects.put(outputKey, halved.bytes)
        let record = ResizeRecord(outputKey: outputKey, outputName: name, bytesIn: original.count, bytesOut: halved.bytes.count,
                                  widthIn: halved.inputWidth, heightIn: halved.inputHeight,
                                  widthOut: halved.outputWidth, heightOut: halved.outputHeight,
                                  grew: halved.bytes.count > original.count)
        return try await settle(place, rawKey: rawKey, .resized(record), format: halved.format, logger: logger)
    }

    public func giveUp(_ message: StageMessage, error: HalfsizeError, logger: Logger) async throws -> [OutgoingMessage] {
        guard let itemID = message.itemID else { return [] }
        return try await store.failItem(itemID, error, stage: stage)
    }

    func settle(_ place: ItemPlace, rawKey: String?, _ outcome: ItemOutcome, format: ImageFormat? = nil, logger: Logger) async throws -> [OutgoingMessage] {
        let settlement = try await store.settleItem(itemID: place.id, jobID: place.jobID, outcome: outcome, stage: stage)
        if settlement.applied { ImageMetrics.settled(outcome, format: format, stage: stage) }
        // Once settled, nothing reads the original again; the retention sweep removes it otherwise.
        if !keepOriginals, let rawKey {
            do {
                try await objects.delete([rawKey])
            } catch {
                logger.warning("cannot delete the original; the retention sweep will", metadata: ["error": "\(error)"])
            }
        }
        return store.csvMessageIfReady(settlement, job: place.reference, jobID: place.jobID)
    }
}
