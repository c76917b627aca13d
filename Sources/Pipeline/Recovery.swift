import Foundation
import HalfsizeCore
import JobStore
import Logging
import Messaging
import Storage

/// The sweeps: the two that find work the message flow lost and send it on again (sending twice
/// is harmless: every stage is idempotent), and the one that removes files past their retention.
public struct Recovery: Sendable {
    let store: JobStore
    let broker: BrokerConnection
    let logger: Logger

    public init(store: JobStore, broker: BrokerConnection, logger: Logger) {
        self.store = store
        self.broker = broker
        self.logger = logger
    }

    /// The outbox relay: jobs committed but not published after `age` (their ingest died between
    /// COMMIT and publish, or the broker was away) get their download messages now.
    public func relay(olderThan age: Duration) async throws {
        for job in try await store.unpublishedJobs(olderThan: age, limit: 20) {
            let messages = job.pendingItemIDs.map { OutgoingMessage(.download, StageMessage(job: job.reference, jobID: job.jobID, itemID: $0)) }
            try await broker.publish(inBatchesOf: 500, messages)
            try await store.markPublished(jobID: job.jobID)
            logger.notice("relayed a job its creator did not publish", metadata: ["job.reference": "\(job.reference)", "images": "\(messages.count)"])
        }
    }

    /// The reaper: in jobs where nothing moved for `age`, unsettled images not waiting for a
    /// scheduled retry go to their stage again, and settled jobs whose output was never written go
    /// to the csv-writer. Only when the stage's queue and every delay queue are empty: otherwise
    /// their messages may simply be waiting their turn.
    public func reap(olderThan age: Duration) async throws {
        var delayed = 0
        for seconds in Topology.delayTiers { delayed += try await broker.inspect(Topology.delayQueue(seconds: seconds)).ready }
        let downloadsWaiting = try await broker.inspect(StageQueue.download.rawValue).ready + delayed
        let resizesWaiting = try await broker.inspect(StageQueue.resize.rawValue).ready + delayed
        let found = try await store.stalledWork(olderThan: age, includingPending: downloadsWaiting == 0,
                                                includingDownloaded: resizesWaiting == 0, limit: 50)
        for work in found {
            var messages = work.pendingItemIDs.map { OutgoingMessage(.download, StageMessage(job: work.reference, jobID: work.jobID, itemID: $0)) }
            messages += work.downloadedItemIDs.map { OutgoingMessage(.resize, StageMessage(job: work.reference, jobID: work.jobID, itemID: $0)) }
            if work.awaitsOutput { messages.append(OutgoingMessage(.csv, StageMessage(job: work.reference, jobID: work.jobID))) }
            guard !messages.isEmpty else { continue }
            try await broker.publish(inBatchesOf: 500, messages)
            logger.notice("reaped stalled work", metadata: [
                "job.reference": "\(work.reference)", "download": "\(work.pendingItemIDs.count)",
                "resize": "\(work.downloadedItemIDs.count)", "csv": "\(work.awaitsOutput)",
            ])
        }
    }

    /// Webhooks whose attempt is overdue by `age` lost their message (a sender died holding it,
    /// or the job's finish was not followed by its publish): their message is sent again.
    public func resendOverdueWebhooks(olderThan age: Duration) async throws {
        let overdue = try await store.overdueWebhooks(overdue: age)
        guard !overdue.isEmpty else { return }
        try await broker.publish(overdue.map { OutgoingMessage(.webhook, StageMessage(job: $0.reference, jobID: $0.jobID)) })
        logger.notice("resent overdue webhooks", metadata: ["jobs": "\(overdue.count)"])
    }

    /// The retention sweep: finished jobs older than `retention` lose their files (upload, output,
    /// originals, images); their rows stay and say when.
    public func expireFiles(olderThan retention: Duration, objects: any ObjectStore) async throws {
        for job in try await store.expiringFiles(olderThan: retention, limit: 20) {
            try await objects.delete(job.keys)
            try await store.markFilesExpired(jobID: job.jobID)
            logger.info("removed a job's files after the retention period", metadata: ["job.reference": "\(job.reference)", "files": "\(job.keys.count)"])
        }
    }
}
