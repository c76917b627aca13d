import Foundation
import HalfsizeCore
import JobStore
import Logging
import Messaging
import NIOPosix
import ProductCSV
import Storage

/// What ingest does with an upload: validate it, store it, create the job and its items in one
/// transaction (the job waits in the outbox), publish one download message per image and take the
/// job out of the outbox. If the publish fails, or ingest dies first, the relay publishes it later:
/// once the transaction is committed the job is accepted.
public struct JobIntake: Sendable {
    public enum Outcome: Sendable {
        case accepted(JobReference, images: Int)
        case invalid(ValidationFailure)
    }

    let store: JobStore
    let objects: any ObjectStore
    let broker: BrokerConnection
    let limits: ValidationLimits
    let logger: Logger

    public init(store: JobStore, objects: any ObjectStore, broker: BrokerConnection, limits: ValidationLimits = .unlimited, logger: Logger) {
        self.store = store
        self.objects = objects
        self.broker = broker
        self.limits = limits
        self.logger = logger
    }

    /// `webhookURL` must have passed `WebhookAddress.validated`.
    public func submit(csv: [UInt8], filename: String?, webhookURL: String? = nil) async throws -> Outcome {
        let sheet: ProductSheet
        let limits = self.limits
        // Off the cooperative pool: a 30 MB CSV takes a while to parse.
        switch try await NIOThreadPool.singleton.runIfActive({ ProductSheet.validate(bytes: csv, limits: limits) }) {
        case .success(let validated): sheet = validated
        case .failure(let failure): return .invalid(failure)
        }
        let reference = JobReference.generate()
        var logger = self.logger
        logger[metadataKey: "job.reference"] = "\(reference)"
        let inputKey = ObjectKey.upload(reference)
        try await objects.put(inputKey, csv)
        let items = sheet.rows.flatMap { row in
            row.imageURLs.enumerated().map { index, url in
                NewItem(rowNumber: row.row, serialNumber: row.serialNumber, position: index + 1, sourceURL: url)
            }
        }
        let job: CreatedJob
        do {
            job = try await store.createJob(reference: reference, inputFilename: filename, inputKey: inputKey,
                                            rowCount: sheet.rows.count, items: items, webhookURL: webhookURL)
        } catch {
            // The COMMIT may have succeeded with its reply lost: then the job exists, and the relay
            // will publish it. Only a job that is not there is refused.
            guard (try? await store.jobExists(reference)) == true else { throw error }
            logger.warning("job stored, but its creation reported an error; the relay will publish it", metadata: ["error": "\(error)"])
            return .accepted(reference, images: items.count)
        }
        let messages = job.downloads.map { item in
            StageMessage(job: reference, jobID: job.id, itemID: item.id,
                         item: .init(row: item.rowNumber, position: item.position, url: item.sourceURL))
        }
        // While the downloads are published: the settles must not plan around stale statistics.
        async let analyzed: Void = store.refreshItemStatistics(afterAdding: items.count)
        await publishDownloads(jobID: job.id, messages, logger: logger)
        do {
            try await analyzed
        } catch {
            logger.warning("cannot analyze the items table; autovacuum will", metadata: ["error": "\(error)"])
        }
        logger.info("job accepted", metadata: ["rows": "\(sheet.rows.count)", "images": "\(items.count)"])
        return .accepted(reference, images: items.count)
    }

    /// Sends a finished job's failed images round again (see `JobStore.retryFailedImages`).
    public func retry(_ reference: JobReference) async throws -> RetryRequest {
        let request = try await store.retryFailedImages(reference: reference)
        if case .retrying(let jobID, let itemIDs) = request {
            var logger = self.logger
            logger[metadataKey: "job.reference"] = "\(reference)"
            await publishDownloads(jobID: jobID, itemIDs.map { StageMessage(job: reference, jobID: jobID, itemID: $0) }, logger: logger)
            logger.info("retrying the job's failed images", metadata: ["images": "\(itemIDs.count)"])
        }
        return request
    }

    /// Publishes a job's download messages and takes it out of the outbox; if that fails, the
    /// job stays in the outbox and the relay publishes it.
    func publishDownloads(jobID: Int64, _ messages: [StageMessage], logger: Logger) async {
        do {
            try await broker.publish(inBatchesOf: 500, messages.map { OutgoingMessage(.download, $0) })
            try await store.markPublished(jobID: jobID)
        } catch {
            logger.warning("job stored but not yet published; the relay will publish it", metadata: ["error": "\(error)"])
        }
    }
}
