import Foundation
import HalfsizeCore
import JobStore
import Logging
import Messaging
import NIOCore
import Operations
import Storage
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Testing
@testable import HTTPAPI
@testable import HTTPCommon

@Suite("Admin access")
struct AdminAccessTests {
    @Test func tokensCompareWholeAndOnlyLoopbackIsTrustedWithoutOne() throws {
        let check = AdminAccessMiddleware<PeerRequestContext>.self
        #expect(check.constantTimeEqual(Array("secret-token-1234".utf8), Array("secret-token-1234".utf8)))
        for other in ["secret-token-123", "secret-token-12345", "Secret-token-1234", ""] {
            #expect(!check.constantTimeEqual(Array(other.utf8), Array("secret-token-1234".utf8)), "\(other)")
        }
        for loopback in ["127.0.0.1", "127.8.9.10", "::1"] {
            #expect(check.isLoopback(try SocketAddress(ipAddress: loopback, port: 1)), "\(loopback)")
        }
        for remote in ["10.0.0.1", "8.8.8.8", "2001:db8::1", "::ffff:10.0.0.1"] {
            #expect(!check.isLoopback(try SocketAddress(ipAddress: remote, port: 1)), "\(remote)")
        }
        #expect(!check.isLoopback(nil))
    }
}

/// The queue view without the management API: depth and consumers from passive declares, and it
/// says which fields are missing and why.
@Suite("Queue view", .enabled(if: IntegrationEnvironment.current != nil, "needs deploy/local/test's broker and database"))
struct QueueViewTests {
    let environment = IntegrationEnvironment.current!

    @Test func fallsBackToPassiveDeclares() async throws {
        let pool = DatabasePool(url: environment.databaseURL, size: 1, logger: Logger(label: "test.store"))
        // This suite may run before any service has created the schema.
        try await Migrations.apply(on: pool, logger: Logger(label: "test.store"))
        let broker = BrokerConnection(endpoint: try BrokerEndpoint(url: URL(string: environment.brokerURL)!), topology: BrokerTopology(),
                                      logger: Logger(label: "test.broker"))
        let running = Task { try await broker.run() }
        defer { running.cancel() }
        let objects = try LocalDirectoryStore(root: FileManager.default.temporaryDirectory.appendingPathComponent("halfsize-qv-\(UUID())"))
        defer { try? FileManager.default.removeItem(at: objects.root) }
        try await objects.put("images/R/r1-1.jpg", Array(repeating: 7, count: 1234))
        for management in [nil, URL(string: "http://guest:guest@127.0.0.1:1/")] {
            let overview = try await QueueMonitor(managementURL: management, broker: broker, store: JobStore(pool: pool), objects: objects).overview()
            #expect(overview.storage?.bytes["images"] == 1234 && overview.storage?.objects["images"] == 1, "\(String(describing: overview.storage))")
            #expect((overview.storage?.freeBytes ?? 0) > 0)
            #expect(overview.source == "amqp")
            #expect(overview.missing == ["unacked", "publish_rate", "deliver_rate", "ack_rate"])
            #expect((overview.managementError != nil) == (management != nil), "\(String(describing: overview.managementError))")
            #expect(overview.queues.map(\.name) == StageQueue.allCases.map(\.rawValue) + Topology.delayTiers.map(Topology.delayQueue(seconds:)))
            #expect(overview.queues.allSatisfy { $0.ready != nil && $0.consumers != nil && $0.unacked == nil })
        }
        try await pool.shutdown()
    }
}

extension PipelineTests {
    /// Through ingest, with the management API: every halfsize queue with its rates, consumers
    /// once every worker is connected, and the pipeline's counts from PostgreSQL.
    @Test(.enabled(if: IntegrationEnvironment.current?.managementURL != nil, "needs the test broker's management API"))
    func queueViewShowsEveryQueueFromTheManagementAPI() async throws {
        let token = "test-admin-token-\(UUID().uuidString)"
        try await withSystem(extra: ["HALFSIZE_ADMIN_TOKEN": token]) { images, system in
            _ = try await runJob("S. No.,Product Name,Input Image Urls\n1,A,\(images.url("corpus/j20_squirrel_0.2mp.jpg"))\n", system: system)
            // The admin token: required when set, compared whole.
            func queues(_ authorization: String?) async throws -> (Int, [UInt8]) {
                var request = URLRequest(url: URL(string: "\(system.publicURL)/api/v1/queues")!)
                request.setValue(authorization, forHTTPHeaderField: "Authorization")
                return try await HTTP.send(request)
            }
            for wrong in [nil, "Bearer ", "Bearer \(token.dropLast())", "Bearer \(token)x", "Basic \(token)"] {
                #expect(try await queues(wrong).0 == 401, "\(String(describing: wrong))")
            }
            var overview: [String: Any] = [:]
            var consumers: [String: Int] = [:]
            let deadline = ContinuousClock.now + .seconds(60)
            while ContinuousClock.now < deadline {
                let (code, body) = try await queues("Bearer \(token)")
                #expect(code == 200)
                overview = try HTTP.json(body)
                let queues = overview["queues"] as? [[String: Any]] ?? []
                consumers = Dictionary(queues.compactMap { queue in (queue["consumers"] as? Int).map { (queue["name"] as? String ?? "", $0) } },
                                       uniquingKeysWith: { first, _ in first })
                // The broker publishes statistics every few seconds: wait until it has seen every worker.
                if StageQueue.allCases.allSatisfy({ (consumers[$0.rawValue] ?? 0) >= 1 }) { break }
                try await Task.sleep(for: .milliseconds(500))
            }
            #expect(overview["source"] as? String == "management", "\(overview["management_error"] ?? "")")
            #expect((overview["missing"] as? [String])?.isEmpty == true)
            let names = (overview["queues"] as? [[String: Any]] ?? []).compactMap { $0["name"] as? String }
            #expect(names == StageQueue.allCases.map(\.rawValue) + Topology.delayTiers.map(Topology.delayQueue(seconds:)))
            for queue in StageQueue.allCases { #expect((consumers[queue.rawValue] ?? 0) >= 1, "\(queue.rawValue): \(consumers)") }
            #expect((overview["jobs"] as? [String: Int])?["completed", default: 0] ?? 0 >= 1)

            // The ops page and /metrics sit behind the same token; a browser sends it as a Basic password.
            func get(_ path: String, _ authorization: String?) async throws -> (Int, String) {
                var request = URLRequest(url: URL(string: "\(system.publicURL)\(path)")!)
                request.setValue(authorization, forHTTPHeaderField: "Authorization")
                let (code, body) = try await HTTP.send(request)
                return (code, String(decoding: body, as: UTF8.self))
            }
            let basic = "Basic " + Data("ops:\(token)".utf8).base64EncodedString()
            #expect(try await get("/metrics", nil).0 == 401)
            #expect(try await get("/metrics", "Basic " + Data("ops:\(token)x".utf8).base64EncodedString()).0 == 401)
            // The page's 401 asks for Basic, which URLSession would answer with a login dialogue of
            // its own: curl only reports it.
            let answer = try Curl.run(["-u", "ops:wrong-\(token)", "\(system.publicURL)/ops"])
            #expect(answer.status == 401 && answer.headers.contains("Basic realm="), "\(answer.headers)")
            let (opsCode, ops) = try await get("/ops", basic)
            #expect(opsCode == 200)
            for queue in StageQueue.allCases { #expect(ops.contains("<td>\(queue.rawValue)</td>"), "\(queue.rawValue)") }
            #expect(ops.contains("http-equiv=\"refresh\""))
            #expect(!ops.contains("{{"), "every template tag is rendered")
            let (metricsCode, metrics) = try await get("/metrics", "Bearer \(token)")
            #expect(metricsCode == 200)
            #expect(PrometheusSamples(metrics).total("halfsize_http_requests_total", ["route": "/api/v1/queues", "status": "200"]) >= 1)
        }
    }
}
