import Foundation
import HalfsizeCore
import JobStore
import Logging
import Messaging
import ServiceLifecycle

/// Consumes `halfsize.dead`: keeps each dead-lettered message in the `dead_letters` table and
/// fails the image it names with `dead_lettered` (the job, for a csv message; the job's webhook,
/// for a webhook message), so the job still finishes. Idempotent: an image already settled stays as it is. While the database is away it
/// requeues after a 2 s pause (this queue has no delivery limit).
public struct DeadLetterWorker: Service {
    let broker: BrokerConnection
    let store: JobStore
    let logger: Logger

    public init(broker: BrokerConnection, store: JobStore, logger: Logger) {
        self.broker = broker
        self.store = store
        self.logger = logger
    }

    public func run() async throws {
        await withDiscardingTaskGroup { group in
            for await delivery in broker.deliveries.cancelOnGracefulShutdown() {
                group.addTask { await record(delivery) }
            }
        }
    }

    func record(_ delivery: Delivery) async {
        let (jobID, itemID) = StageMessage.identifiers(in: delivery.body)
        let queue = delivery.deathQueue ?? "an unknown queue"
        let error = HalfsizeError(.deadLettered, "the message was dead-lettered from \(queue): \(Self.explain(delivery.deathReason))")
        logger.error("dead letter", metadata: [
            "queue": "\(queue)", "reason": "\(delivery.deathReason ?? "-")", "job.id": "\(jobID.map(String.init) ?? "-")",
            "item.id": "\(itemID.map(String.init) ?? "-")", "body": "\(String(decoding: delivery.body.prefix(200), as: UTF8.self))",
        ])
        do {
            try await store.recordDeadLetter(queue: delivery.deathQueue, reason: delivery.deathReason, body: delivery.body,
                                             jobID: jobID, itemID: itemID)
            var next: [OutgoingMessage] = []
            if let itemID {
                next = try await store.failItem(itemID, error, stage: .deadLetters)
            } else if let jobID, delivery.deathQueue == StageQueue.webhook.rawValue {
                try await store.failWebhook(jobID: jobID)
            } else if let jobID {
                next = try await store.failJob(jobID: jobID, stage: .deadLetters, error: error)?.webhookMessages ?? []
            }
            try await broker.publish(next)
            broker.ack(delivery)
        } catch {
            logger.warning("cannot record a dead letter yet; requeueing it", metadata: ["error": "\(error)"])
            try? await Task.sleep(for: .seconds(2))
            broker.reject(delivery, requeue: true)
        }
    }

    /// RabbitMQ's x-first-death-reason in words.
    static func explain(_ reason: String?) -> String {
        switch reason {
        case "delivery_limit": "it was delivered the maximum number of times without being handled (a worker died or failed on it each time)"
        case "rejected": "a worker rejected it (its body is not a stage message, or a fault of ours outlasted the retry horizon and the image could not be failed)"
        case "expired": "it expired"
        case "maxlen": "its queue was full"
        default: "reason \(reason ?? "unknown")"
        }
    }
}
