import Foundation
import HalfsizeCore
import Logging
import Messaging
import Testing

/// The broker connection answers every waiter, whatever happens on its I/O thread.
@Suite("Broker connection", .enabled(if: IntegrationEnvironment.current != nil, "needs deploy/local/test's broker"))
struct BrokerConnectionTests {
    let environment = IntegrationEnvironment.current!

    func withBroker(url: String? = nil, _ body: (BrokerConnection) async throws -> Void) async throws {
        let broker = BrokerConnection(endpoint: try BrokerEndpoint(url: URL(string: url ?? environment.brokerURL)!),
                                      topology: BrokerTopology(), confirmTimeout: .seconds(10), logger: Logger(label: "test.broker"))
        let running = Task { try await broker.run() }
        defer { running.cancel() }
        try await body(broker)
    }

    func failure(_ work: () async throws -> Void) async -> HalfsizeError? {
        do {
            try await work()
            return nil
        } catch {
            return error as? HalfsizeError
        }
    }

    @Test func unroutablePublishFailsItsWaiter() async throws {
        try await withBroker { broker in
            let message = OutgoingMessage(routingKey: "halfsize.no-such-queue", body: Array("{}".utf8), messageID: "x")
            let error = await failure { try await broker.publish([message]) }
            #expect(error?.code == .brokerUnavailable)
            #expect(error?.message.contains("no queue took") == true, "\(String(describing: error))")
            // The connection goes on: the next publish is confirmed (a csv message for no job, which
            // a csv-writer acks without doing anything).
            try await broker.publish([OutgoingMessage(.csv, StageMessage(job: JobReference.generate(), jobID: -1))])
        }
    }

    @Test func aPublishTheBrokerClosesTheChannelOnFailsEveryWaiter() async throws {
        try await withBroker { broker in
            // Publishing to an exchange that does not exist makes the broker close the channel: the
            // request in flight and the one queued behind it both fail; neither hangs.
            let doomed = OutgoingMessage(exchange: "halfsize.no-such-exchange", routingKey: "x", body: Array("{}".utf8), messageID: "x")
            let behind = OutgoingMessage(.download, StageMessage(job: JobReference.generate(), jobID: -1, itemID: -1))
            async let first = failure { try await broker.publish([doomed]) }
            async let second = failure { try await broker.publish([doomed, behind]) }
            let errors = await [first, second]
            #expect(errors.allSatisfy { $0?.code == .brokerUnavailable }, "\(errors)")
            // After the reconnect, work goes on.
            let depth = try await broker.inspect(StageQueue.csv.rawValue)
            #expect(depth.ready >= 0)
        }
    }

    @Test func publishingWithoutABrokerFailsPromptly() async throws {
        try await withBroker(url: "amqp://guest:guest@127.0.0.1:1/") { broker in
            // Answered by the next failed connection attempt, not left waiting.
            let error = await failure { try await broker.publish([OutgoingMessage(routingKey: "q", body: [], messageID: "x")]) }
            #expect(error?.code == .brokerUnavailable)
        }
    }
}
