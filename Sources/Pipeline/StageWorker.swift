import Foundation
import HalfsizeCore
import JobStore
import Logging
import Messaging
import ServiceLifecycle

/// One stage's work on one message: returns the messages that carry the work on (possibly the
/// same message, delayed). Image and supplier problems are recorded on the item and are not
/// errors here; a thrown error is a fault of ours (database, storage, broker), retried later.
public protocol StageHandler: Sendable {
    var stage: Stage { get }
    var queue: StageQueue { get }
    func handle(_ message: StageMessage, logger: Logger) async throws -> [OutgoingMessage]
    /// Settles the message's work as failed once faults of ours outlasted the retry horizon.
    func giveUp(_ message: StageMessage, error: HalfsizeError, logger: Logger) async throws -> [OutgoingMessage]
}

/// Consumes a stage's queue: for each delivery it runs the handler, publishes what the handler
/// returns, and acks only after the broker confirmed those messages. The whole ack/retry policy:
///
/// | what happened | what is done |
/// |---|---|
/// | handled | publish the next messages, then ack |
/// | body not a stage message | reject without requeue: dead-lettered to `halfsize.dead` |
/// | a fault of ours | publish the message again through a delay queue (growing delays), then ack |
/// | … for longer than the horizon | `giveUp` fails the image; if even that fails, dead-letter |
/// | the retry cannot be published | requeue after a pause (the delivery limit bounds this) |
/// | the worker dies holding it | the broker redelivers (the delivery limit bounds this) |
public struct StageWorker: Service {
    let broker: BrokerConnection
    let handler: any StageHandler
    let policy: RetryPolicy
    let logger: Logger
    /// The pause before a delivery whose retry could not be published is requeued.
    let requeuePause: Duration
    let metrics: StageMetrics

    public init(broker: BrokerConnection, handler: any StageHandler, policy: RetryPolicy = RetryPolicy(),
                requeuePause: Duration = .seconds(1), logger: Logger) {
        self.broker = broker
        self.handler = handler
        self.policy = policy
        self.requeuePause = requeuePause
        self.logger = logger
        self.metrics = StageMetrics(queue: handler.queue, stage: handler.stage)
    }

    public func run() async throws {
        logger.info("worker started", metadata: ["queue": "\(handler.queue.rawValue)"])
        await withDiscardingTaskGroup { group in
            // The broker's prefetch bounds how many deliveries are in flight at once. On SIGTERM the
            // loop stops taking deliveries and the group waits for those in flight.
            for await delivery in broker.deliveries.cancelOnGracefulShutdown() {
                group.addTask { await process(delivery) }
            }
        }
        logger.info("worker stopped", metadata: ["queue": "\(handler.queue.rawValue)"])
    }

    func process(_ delivery: Delivery) async {
        metrics.consumed.increment()
        metrics.inFlight.increment()
        defer { metrics.inFlight.decrement() }
        let message: StageMessage
        do {
            message = try StageMessage.decode(delivery.body)
        } catch {
            logger.error("dead-lettering a message that is not a stage message", metadata: [
                "error.code": "\(error.code.rawValue)", "error": "\(error.message)",
            ])
            broker.reject(delivery, requeue: false)
            metrics.deadLettered.increment()
            return
        }
        var logger = self.logger
        logger[metadataKey: "job.reference"] = "\(message.job)"
        if let item = message.itemID { logger[metadataKey: "item.id"] = "\(item)" }
        do {
            let started = ContinuousClock.now
            let next = try await handler.handle(message, logger: logger)
            metrics.handling.record(duration: ContinuousClock.now - started)
            try await finish(delivery, sending: next)
        } catch {
            await retry(delivery, message, after: error, logger: logger)
        }
    }

    /// Publishes `messages`, then acks: the work is never in neither place.
    func finish(_ delivery: Delivery, sending messages: [OutgoingMessage]) async throws {
        try await broker.publish(messages)
        broker.ack(delivery)
        metrics.acked.increment()
    }

    func retry(_ delivery: Delivery, _ message: StageMessage, after error: any Error, logger: Logger) async {
        let code = (error as? HalfsizeError)?.code.rawValue ?? ErrorCode.databaseError.rawValue
        switch policy.decide(message, error: error) {
        case .retry(let next, let delay):
            logger.warning("stage failed on our side; retrying through a delay queue", metadata: [
                "error.code": "\(code)", "error": "\(error)", "retry": "\(next.retries)",
                "retry_in_ms": "\(delay.inMilliseconds)", "redelivered": "\(delivery.redelivered)",
            ])
            do {
                try await finish(delivery, sending: [.delayed(handler.queue, next, by: delay)])
                metrics.delayed.increment()
            } catch {
                logger.warning("cannot publish the retry; requeueing", metadata: ["error": "\(error)"])
                try? await Task.sleep(for: requeuePause)
                broker.reject(delivery, requeue: true)
                metrics.requeued.increment()
            }
        case .giveUp(let failure):
            logger.error("giving up after the retry horizon", metadata: ["error.code": "\(failure.code.rawValue)", "error": "\(failure.message)"])
            do {
                try await finish(delivery, sending: try await handler.giveUp(message, error: failure, logger: logger))
            } catch {
                broker.reject(delivery, requeue: false)  // dead-lettered; csv-writer records it
                metrics.deadLettered.increment()
            }
        }
    }
}

extension JobStore {
    /// The csv message for an item's job when all its images have settled and its output is not
    /// written: a message for an image already settled may be the one whose csv message was lost.
    func csvMessageIfAwaitingOutput(_ item: ItemRecord) async throws -> [OutgoingMessage] {
        try await awaitsOutput(jobID: item.jobID) ? [OutgoingMessage(.csv, StageMessage(job: item.jobReference, jobID: item.jobID))] : []
    }

    /// The csv message for a job whose images have all settled and whose output is not written.
    func csvMessageIfReady(_ settlement: Settlement, job: JobReference, jobID: Int64) -> [OutgoingMessage] {
        settlement.jobReadyForCSV ? [OutgoingMessage(.csv, StageMessage(job: job, jobID: jobID))] : []
    }

    /// Settles the image a message names as failed (if it has not settled yet) and returns the
    /// csv message when that was the job's last image.
    func failItem(_ itemID: Int64, _ error: HalfsizeError, stage: Stage) async throws -> [OutgoingMessage] {
        guard let item = try await item(itemID) else { return [] }
        let settlement = try await settleItem(itemID: item.id, jobID: item.jobID, outcome: .failed(error), stage: stage)
        if settlement.applied { ImageMetrics.settled(.failed(error), format: nil, stage: stage) }
        return csvMessageIfReady(settlement, job: item.jobReference, jobID: item.jobID)
    }
}
