import Foundation
import HalfsizeCore
import JobStore
import Logging
import Messaging
import ProductCSV
import Storage

/// What ingest does with an upload: validate it, store it, create the job and its items in one
/// transaction, and publish one download message per image.
public struct JobIntake: Sendable {
    public enum Outcome: Sendable {
        case accepted(JobReference, images: Int)
        case invalid(ValidationFailure)
    }

    let store: JobStore
    let objects: any ObjectStore
    let broker: BrokerConnection
    let logger: Logger
    /// How long publishing may keep retrying while the broker is away before the job fails.
    let publishPatience: Duration

    public init(store: JobStore, objects: any ObjectStore, broker: BrokerConnection, publishPatience: Duration = .seconds(15), logger: Logger) {
        self.store = store
        self.objects = objects
        self.broker = broker
        self.publishPatience = publishPatience
        self.logger = logger
    }

    public func submit(csv: [UInt8], filename: String?) async throws -> Outcome {
        guard let text = String(validating: csv, as: UTF8.self) else {
            return .invalid(ValidationFailure(problems: [
                ValidationProblem(row: 1, column: nil, code: .malformedCSV, message: "the file is not UTF-8 text; save the CSV as UTF-8"),
            ]))
        }
        let sheet: ProductSheet
        switch ProductSheet.validate(text) {
        case .success(let validated): sheet = validated
        case .failure(let failure): return .invalid(failure)
        }
        let reference = JobReference.generate()
        let inputKey = ObjectKey.upload(reference)
        try await objects.put(inputKey, csv)
        let items = sheet.rows.flatMap { row in
            row.imageURLs.enumerated().map { index, url in
                NewItem(rowNumber: row.row, serialNumber: row.serialNumber, position: index + 1, sourceURL: url)
            }
        }
        let job = try await store.createJob(reference: reference, inputFilename: filename, inputKey: inputKey,
                                            rowCount: sheet.rows.count, items: items)
        var logger = self.logger
        logger[metadataKey: "job.reference"] = "\(reference)"
        let messages = job.itemIDs.map { OutgoingMessage(.download, StageMessage(job: reference, jobID: job.id, itemID: $0)) }
        do {
            try await publishPatiently(messages)
        } catch {
            let failure = HalfsizeError(.brokerUnavailable, "the job's download messages could not be queued: \(error)")
            logger.error("job failed at ingest", metadata: ["error.code": "\(failure.code.rawValue)", "error": "\(failure.message)"])
            try await store.failJob(jobID: job.id, stage: .ingest, error: failure)
            throw failure
        }
        logger.info("job accepted", metadata: ["rows": "\(sheet.rows.count)", "images": "\(items.count)"])
        return .accepted(reference, images: items.count)
    }

    private func publishPatiently(_ messages: [OutgoingMessage]) async throws {
        let deadline = ContinuousClock.now + publishPatience
        var remaining = messages[...]
        while !remaining.isEmpty {
            let batch = Array(remaining.prefix(500))
            do {
                try await broker.publish(batch)
                remaining = remaining.dropFirst(batch.count)
            } catch {
                // A batch confirmed again after a reconnect is harmless: stages are idempotent.
                guard ContinuousClock.now < deadline else { throw error }
                try await Task.sleep(for: .milliseconds(250))
            }
        }
    }
}
