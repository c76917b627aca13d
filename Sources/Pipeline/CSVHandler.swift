import HalfsizeCore
import JobStore
import Logging
import Messaging
import ProductCSV
import Storage

/// csv-writer stage: writes the output CSV (the input's rows and columns, in order, plus
/// `Output Image Urls` aligned with the input URLs, empty where an image failed) and sets the
/// job's final status. Writing again after a crash produces the same file.
public struct CSVHandler: StageHandler {
    public let stage = Stage.csvWriter
    public let queue = StageQueue.csv
    let store: JobStore
    let objects: any ObjectStore
    let urls: PublicURLs

    public init(store: JobStore, objects: any ObjectStore, urls: PublicURLs) {
        self.store = store
        self.objects = objects
        self.urls = urls
    }

    public func handle(_ message: StageMessage, logger: Logger) async throws -> [OutgoingMessage] {
        guard let job = try await store.beginWriting(jobID: message.jobID) else {
            logger.debug("job already written or not settled; nothing to do")
            return []
        }
        guard let input = try await objects.get(job.inputKey) else {
            let failed = try await store.failJob(jobID: job.id, stage: stage, error: HalfsizeError(.storageError, "the uploaded CSV is missing from storage"))
            return failed?.webhookMessages ?? []
        }
        let sheet: ProductSheet
        switch ProductSheet.validate(bytes: input) {
        case .success(let validated):
            sheet = validated
        case .failure(let failure):
            let failed = try await store.failJob(jobID: job.id, stage: stage, error: HalfsizeError(.invalidCSV, "the stored upload no longer validates: \(failure.summary)"))
            return failed?.webhookMessages ?? []
        }
        var outputNames: [Int: [Int: String]] = [:]
        for item in try await store.itemsForOutput(jobID: job.id) where item.status == .resized {
            outputNames[item.rowNumber, default: [:]][item.position] = item.outputName
        }
        let csv = sheet.outputCSV { row in
            (1...row.imageURLs.count).map { position in
                outputNames[row.row]?[position].map { urls.image(job.reference, name: $0) }
            }
        }
        let outputKey = ObjectKey.output(job.reference)
        try await objects.put(outputKey, Array(csv.utf8))
        let finished = try await store.finishJob(jobID: job.id, outputKey: outputKey)
        logger.info("job finished", metadata: ["status": "\(finished?.status.rawValue ?? "unchanged")"])
        if let finished { JobMetrics.finished(finished.status) }
        return finished?.webhookMessages ?? []
    }

    public func giveUp(_ message: StageMessage, error: HalfsizeError, logger: Logger) async throws -> [OutgoingMessage] {
        try await store.failJob(jobID: message.jobID, stage: stage, error: error)?.webhookMessages ?? []
    }
}
