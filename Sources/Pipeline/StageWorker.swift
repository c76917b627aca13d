import Foundation
import HalfsizeCore
import JobStore
import Logging
import Messaging
import ServiceLifecycle

/// One stage's work on one message: returns the messages that carry the work on. Image problems
/// are recorded on the item and are not errors here; a thrown error means "try again later".
public protocol StageHandler: Sendable {
    var stage: Stage { get }
    var queue: StageQueue { get }
    func handle(_ message: StageMessage, logger: Logger) async throws -> [OutgoingMessage]
}

/// Consumes a stage's queue: for each delivery it runs the handler, publishes what the handler
/// returns, and acks only after the broker confirmed those messages. A failure requeues the
/// delivery after a pause (the quorum queue's delivery limit bounds the retries).
public struct StageWorker: Service {
    let broker: BrokerConnection
    let handler: any StageHandler
    let logger: Logger
    let retryDelay: Duration

    public init(broker: BrokerConnection, handler: any StageHandler, retryDelay: Duration = .seconds(1), logger: Logger) {
        self.broker = broker
        self.handler = handler
        self.retryDelay = retryDelay
        self.logger = logger
    }

    public func run() async throws {
        logger.info("worker started", metadata: ["queue": "\(handler.queue.rawValue)"])
        await withDiscardingTaskGroup { group in
            // The broker's prefetch bounds how many deliveries are in flight at once.
            for await delivery in broker.deliveries.cancelOnGracefulShutdown() {
                group.addTask { await process(delivery) }
            }
        }
        logger.info("worker stopped", metadata: ["queue": "\(handler.queue.rawValue)"])
    }

    func process(_ delivery: Delivery) async {
        let message: StageMessage
        do {
            message = try StageMessage.decode(delivery.body)
        } catch {
            logger.error("dropping a message that is not a stage message", metadata: ["error.code": "\(error.code.rawValue)", "error": "\(error.message)"])
            broker.reject(delivery, requeue: false)
            return
        }
        var logger = self.logger
        logger[metadataKey: "job.reference"] = "\(message.job)"
        if let item = message.itemID { logger[metadataKey: "item.id"] = "\(item)" }
        do {
            let next = try await handler.handle(message, logger: logger)
            try await broker.publish(next)
            broker.ack(delivery)
        } catch {
            let code = (error as? HalfsizeError)?.code.rawValue ?? ErrorCode.databaseError.rawValue
            logger.warning("stage failed; the message will be retried", metadata: [
                "error.code": "\(code)", "error": "\(error)", "redelivered": "\(delivery.redelivered)",
            ])
            try? await Task.sleep(for: retryDelay)
            broker.reject(delivery, requeue: true)
        }
    }
}

extension JobStore {
    /// The csv message for a job whose images have all settled and whose output is not written.
    func csvMessageIfReady(_ settlement: Settlement, job: JobReference, jobID: Int64) -> [OutgoingMessage] {
        settlement.jobReadyForCSV ? [OutgoingMessage(.csv, StageMessage(job: job, jobID: jobID))] : []
    }
}
