import Foundation
import HalfsizeCore
import JobStore
import Logging
import Messaging
import Testing

/// What happens around a bad day, through the real executables, broker and database. In the
/// pipeline suite, so that only one system consumes the shared queues at a time.
extension PipelineTests {
    func withStore<T>(_ body: (JobStore) async throws -> T) async throws -> T {
        let pool = DatabasePool(url: environment.databaseURL, size: 2, logger: Logger(label: "test.store"))
        do {
            // A test may come before any service has created the schema.
            try await Migrations.apply(on: pool, logger: Logger(label: "test.store"))
            let value = try await body(JobStore(pool: pool))
            try await pool.shutdown()
            return value
        } catch {
            try await pool.shutdown()
            throw error
        }
    }

    func withTestBroker<T>(consuming queue: StageQueue? = nil, _ body: (BrokerConnection) async throws -> T) async throws -> T {
        let broker = BrokerConnection(endpoint: try BrokerEndpoint(url: URL(string: environment.brokerURL)!),
                                      topology: BrokerTopology(consumedQueue: queue?.rawValue, prefetch: 50),
                                      logger: Logger(label: "test.broker"))
        let running = Task { try await broker.run() }
        defer { running.cancel() }
        return try await body(broker)
    }

    @Test func flakySupplierEndsResizedAndPermanentFailuresAreAskedOnce() async throws {
        let supplier = try SupplierServer.start()
        defer { supplier.stop() }
        try await withSystem { _, system in
            let key = UUID().uuidString
            let csv = """
                S. No.,Product Name,Input Image Urls
                1,Flaky,\(supplier.url("flaky/\(key)/j20_squirrel_0.2mp.jpg"))
                2,Gone,\(supplier.url("missing/\(key).jpg"))
                3,Locked,\(supplier.url("forbidden/\(key).jpg"))
                4,Slow start,\(supplier.url("slowstart/j22_product_brushes_600.jpg"))

                """
            let (code, body) = try await HTTP.post("\(system.publicURL)/api/v1/jobs", body: Array(csv.utf8), contentType: "text/csv")
            #expect(code == 202)
            let statusURL = try #require(try HTTP.json(body)["status_url"] as? String)
            // While it waits, the flaky image shows its attempts and last error.
            var sawRetrying = false
            var report: [String: Any] = [:]
            let deadline = ContinuousClock.now + .seconds(120)
            while ContinuousClock.now < deadline {
                report = try HTTP.json(try await HTTP.get(statusURL).1)
                if let retrying = report["retrying"] as? [[String: Any]], let first = retrying.first,
                   (first["attempts"] as? Int ?? 0) >= 1, (first["last_error"] as? [String: Any])?["code"] != nil {
                    sawRetrying = true
                }
                if JobStatus(rawValue: report["status"] as? String ?? "")?.isFinal == true { break }
                try await Task.sleep(for: .milliseconds(200))
            }
            #expect(sawRetrying, "the status API showed the flaky image's attempts while it waited")
            #expect(report["status"] as? String == "completed_with_errors")
            #expect((report["images"] as? [String: Int])?["resized"] == 2)
            let errors = try #require(report["errors"] as? [[String: Any]])
            #expect(errors.map { $0["row"] as? Int } == [3, 4])
            #expect(errors.allSatisfy { $0["code"] as? String == "http_status" && $0["attempts"] as? Int == 1 })
            let requests = try await supplier.requests()
            #expect(requests["/flaky/\(key)/j20_squirrel_0.2mp.jpg"] == 5, "503, 503, 429, reset, 200: \(requests)")
            #expect(requests["/missing/\(key).jpg"] == 1, "a 404 is requested exactly once")
            #expect(requests["/forbidden/\(key).jpg"] == 1, "a 403 is requested exactly once")
        }
    }

    /// A message every consumer dies with (here: a test consumer that rejects it each time, while
    /// no worker runs) reaches halfsize.dead at the delivery limit; one whose body no worker can
    /// read is dead-lettered at once. csv-writer fails their images with dead_lettered, and the
    /// job finishes with its other images.
    @Test func poisonMessagesAreDeadLetteredAndTheirJobFinishes() async throws {
        let images = try await ImageServer.start()
        defer { images.stop() }
        let urls = ["corpus/j20_squirrel_0.2mp.jpg", "corpus/p03_photo_fruits_512.png", "corpus/j22_product_brushes_600.jpg"].map(images.url)
        let reference = JobReference.generate()
        let csv = "S. No.,Product Name,Input Image Urls\n" + urls.enumerated().map { "\($0.offset + 1),P\($0.offset),\($0.element)\n" }.joined()
        let job = try await withStore { store in
            let job = try await store.createJob(reference: reference, inputFilename: "poison.csv", inputKey: "uploads/\(reference).csv", rowCount: 3,
                                                items: urls.enumerated().map { NewItem(rowNumber: $0.offset + 2, serialNumber: Int64($0.offset + 1), position: 1, sourceURL: $0.element) })
            try await store.markPublished(jobID: job.id)
            return job
        }
        let (good, limitPoison, unreadable) = (job.itemIDs[0], job.itemIDs[1], job.itemIDs[2])
        try await withTestBroker(consuming: .download) { broker in
            try await broker.publish([OutgoingMessage(.download, StageMessage(job: reference, jobID: job.id, itemID: limitPoison))])
            var deliveries = 0
            for await delivery in broker.deliveries {
                guard StageMessage.identifiers(in: delivery.body).itemID == limitPoison else {
                    broker.ack(delivery)  // left over by an earlier test
                    continue
                }
                deliveries += 1
                broker.reject(delivery, requeue: true)
                if deliveries == 20 { break }
            }
            #expect(deliveries == 20)
        }
        try await withSystem { _, system in
            let upload = system.dataDirectory.appendingPathComponent("uploads/\(reference).csv")
            try FileManager.default.createDirectory(at: upload.deletingLastPathComponent(), withIntermediateDirectories: true)
            try Data(csv.utf8).write(to: upload)
            try await withTestBroker { broker in
                let body = Array(#"{"v":99,"job":"\#(reference)","job_id":\#(job.id),"item_id":\#(unreadable)}"#.utf8)
                try await broker.publish([OutgoingMessage(routingKey: StageQueue.download.rawValue, body: body, messageID: "poison"),
                                          OutgoingMessage(.download, StageMessage(job: reference, jobID: job.id, itemID: good))])
            }
            let report = try await waitForFinalStatus(system.publicURL + "/api/v1/jobs/\(reference)", timeout: .seconds(60))
            #expect(report["status"] as? String == "completed_with_errors")
            let errors = try #require(report["errors"] as? [[String: Any]])
            #expect(errors.compactMap { $0["item_id"] as? Int }.sorted() == [Int(limitPoison), Int(unreadable)].sorted())
            #expect(errors.allSatisfy { $0["code"] as? String == "dead_lettered" })
            let messages = errors.compactMap { $0["message"] as? String }
            #expect(messages.contains { $0.contains("halfsize.download") && $0.contains("maximum number of times") }, "\(messages)")
            #expect(messages.contains { $0.contains("rejected") }, "\(messages)")
            let recorded = try await withStore { store in
                try await store.pool.withConnection { try $0.query("SELECT reason FROM dead_letters WHERE job_id = $1 ORDER BY id", [String(job.id)]) }
            }
            #expect(recorded.rows.compactMap { $0[0] }.sorted() == ["delivery_limit", "rejected"])
            let dead = try await withTestBroker { try await $0.inspect(StageQueue.dead.rawValue) }
            #expect(dead.ready == 0, "csv-writer drained halfsize.dead")
        }
    }

    /// The database state an ingest leaves when it dies between COMMIT and publish: a stored job
    /// in the outbox. The relay publishes it. And a job whose messages were lost after it was
    /// published is sent on by the reaper.
    @Test func storedButUnpublishedOrLostJobsAreFinishedByRelayAndReaper() async throws {
        try await withSystem(extra: ["HALFSIZE_RELAY_AFTER": "1", "HALFSIZE_REAP_AFTER": "5"]) { images, system in
            let urls = ["corpus/j20_squirrel_0.2mp.jpg", "corpus/p03_photo_fruits_512.png"].map(images.url)
            let csv = Array("S. No.,Product Name,Input Image Urls\n1,A,\"\(urls.joined(separator: ", "))\"\n".utf8)
            var references: [JobReference] = []
            try await withStore { store in
                for published in [false, true] {
                    let reference = JobReference.generate()
                    // The upload exists in storage as ingest would have written it.
                    let upload = system.dataDirectory.appendingPathComponent("uploads/\(reference).csv")
                    try FileManager.default.createDirectory(at: upload.deletingLastPathComponent(), withIntermediateDirectories: true)
                    try Data(csv).write(to: upload)
                    let job = try await store.createJob(reference: reference, inputFilename: nil, inputKey: "uploads/\(reference).csv", rowCount: 1,
                                                        items: urls.enumerated().map { NewItem(rowNumber: 2, serialNumber: 1, position: $0.offset + 1, sourceURL: $0.element) })
                    if published {
                        try await store.markPublished(jobID: job.id)  // published, then every message lost
                        _ = try await store.pool.withConnection { try $0.query("UPDATE jobs SET updated_at = now() - interval '1 minute' WHERE id = $1", [String(job.id)]) }
                        _ = try await store.pool.withConnection { try $0.query("UPDATE items SET updated_at = now() - interval '1 minute' WHERE job_id = $1", [String(job.id)]) }
                    }
                    references.append(reference)
                }
            }
            for reference in references {
                let report = try await waitForFinalStatus(system.publicURL + "/api/v1/jobs/\(reference)", timeout: .seconds(90))
                #expect(report["status"] as? String == "completed", "\(reference)")
            }
            let reapedJob = references[1]
            let reaped = try await withStore { store in
                try await store.pool.withConnection { connection in
                    try connection.query("SELECT count(*) FROM events e JOIN jobs j ON j.id = e.job_id WHERE j.reference = $1 AND e.status = 'reaped'",
                                         [reapedJob.rawValue]).rows.first?.first ?? nil
                }
            }
            #expect(reaped == "2", "the reaper recorded sending both images again")
            #expect(system.log("ingest").contains("relayed a job"))
        }
    }
}
