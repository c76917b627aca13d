import Foundation
import HalfsizeCore
import ImageCodecs
import JobStore
import Logging
import Messaging
import ProductCSV
import Storage
import TestCorpus
import Testing

/// End to end through the real executables, RabbitMQ and PostgreSQL. Serialized: the tests
/// share the broker's queues, so one system runs at a time.
@Suite("Pipeline, end to end", .serialized, .enabled(if: IntegrationEnvironment.current != nil, "needs deploy/local/test's broker and database"))
struct PipelineTests {
    let environment = IntegrationEnvironment.current!

    func waitForFinalStatus(_ statusURL: String, timeout: Duration = .seconds(240)) async throws -> [String: Any] {
        let deadline = ContinuousClock.now + timeout
        var seen: Set<String> = []
        while ContinuousClock.now < deadline {
            let (code, body) = try await HTTP.get(statusURL)
            #expect(code == 200)
            let report = try HTTP.json(body)
            let status = report["status"] as? String ?? ""
            seen.insert(status)
            if JobStatus(rawValue: status)?.isFinal == true { return report }
            try await Task.sleep(for: .milliseconds(250))
        }
        throw HalfsizeError(.notReady, "the job did not finish in time; saw \(seen.sorted())")
    }

    /// Starts an image server and the four programs, runs `body`, records a failure with the end of
    /// every program's log, and checks that every program stops cleanly on SIGTERM.
    func withSystem(slowDelay: Duration = .seconds(3), extra: [String: String] = [:],
                    _ body: (ImageServer, RunningSystem) async throws -> Void) async throws {
        let images = try await ImageServer.start(slowDelay: slowDelay)
        let system = try await RunningSystem.start(environment, extra: extra)
        defer { images.stop() }
        do {
            try await body(images, system)
        } catch {
            let logs = ["ingest", "downloader", "resizer", "csv-writer"].map { "--- \($0):\n\(system.log($0).suffix(2000))" }
            Issue.record("\(error)\n\(logs.joined(separator: "\n"))")
        }
        let statuses = system.stop()
        #expect(statuses.values.allSatisfy { $0 == 0 }, "every process stops cleanly on SIGTERM: \(statuses)")
    }

    @Test func csvOfFiftyImagesComesBackHalvedInOrderAndEveryServiceCountsIt() async throws {
        try await withSystem { images, system in
            let since = try await databaseNow()
            try await runEndToEnd(images: images, system: system)
            try await checkMetricsAddUp(system, since: since)
        }
        // Every delivery was acked (acks are gathered, see AckWindow) before the workers stopped:
        // an ack lost or held back would put its message back in its queue when they disconnected.
        try await Task.sleep(for: .seconds(1))
        let broker = BrokerConnection(endpoint: try BrokerEndpoint(url: URL(string: environment.brokerURL)!), topology: BrokerTopology(),
                                      logger: Logger(label: "test.broker"))
        let running = Task { try await broker.run() }
        defer { running.cancel() }
        for queue in [StageQueue.download, .resize] {
            #expect(try await broker.inspect(queue.rawValue).ready == 0, "\(queue.rawValue) holds messages after the job")
        }
    }

    /// The same job with every file in S3 (HALFSIZE_STORAGE=s3): nothing is written to the disk.
    @Test(.enabled(if: TestS3.current != nil, "needs deploy/local/test's S3"))
    func theSameJobRunsWithEveryFileInS3() async throws {
        let s3 = try #require(TestS3.current)
        let bucket = S3ObjectStore(settings: s3.settings())
        let before = try await bucket.usage()
        var halved = 0
        try await withSystem(extra: s3.variables) { images, system in
            halved = try await runEndToEnd(images: images, system: system)
            let files = FileManager.default.enumerator(atPath: system.dataDirectory.path)?.allObjects ?? []
            #expect(files.isEmpty, "with S3 storage no file is written locally: \(files)")
            #expect(system.log("ingest").contains("storing files in S3 bucket halfsize"))
        }
        let after = try await bucket.usage()
        #expect(after.objects["uploads"] == (before.objects["uploads"] ?? 0) + 1)
        #expect(after.objects["output"] == (before.objects["output"] ?? 0) + 1)
        #expect((after.objects["images"] ?? 0) - (before.objects["images"] ?? 0) == halved, "one halved image per distinct URL")
    }

    /// Returns how many distinct images were halved.
    @discardableResult
    func runEndToEnd(images: ImageServer, system: RunningSystem) async throws -> Int {
        // 22 rows, 2–3 URLs each, cycling through every corpus file; row 5 has one URL that answers 404.
        let files = Corpus.images
        try #require(!files.isEmpty, "no corpus at \(Corpus.root.path): set HALFSIZE_TEST_CORPUS")
        var lines = ["S. No.,Product Name,Brand,Input Image Urls"]
        var expectedURLs: [[String]] = []
        var cursor = 0
        for row in 1...22 {
            var urls: [String] = []
            for _ in 0..<(row % 3 == 0 ? 3 : 2) {
                urls.append(images.url("corpus/\(files[cursor % files.count])"))
                cursor += 1
            }
            if row == 5 { urls[1] = images.url("corpus/missing-photo.jpg") }
            expectedURLs.append(urls)
            lines.append("\(row),\"Product \(row), size M\",Acme,\"\(urls.joined(separator: ", "))\"")
        }
        let imageCount = expectedURLs.reduce(0) { $0 + $1.count }
        #expect(imageCount >= 50)
        // A URL named again shares the first naming's download and output: r<row>-<position> of it.
        var firstPlace: [String: (row: Int, position: Int)] = [:]
        for (index, urls) in expectedURLs.enumerated() {
            for (position, url) in urls.enumerated() where firstPlace[url] == nil { firstPlace[url] = (index + 2, position + 1) }
        }
        #expect(firstPlace.count < imageCount, "the corpus repeats within the job, so some URLs are named twice")
        let csv = Array((lines.joined(separator: "\n") + "\n").utf8)

        let form = HTTP.multipart(field: "file", filename: "products.csv", content: csv)
        let (code, body) = try await HTTP.post("\(system.publicURL)/api/v1/jobs", body: form.body, contentType: form.contentType)
        #expect(code == 202)
        let accepted = try HTTP.json(body)
        let reference = try #require((accepted["reference"] as? String).flatMap(JobReference.init))
        let statusURL = try #require(accepted["status_url"] as? String)
        #expect(accepted["images"] as? Int == imageCount)

        let (earlyCode, _) = try await HTTP.get("\(system.publicURL)/api/v1/jobs/\(reference)/output.csv")
        let report = try await waitForFinalStatus(statusURL)
        #expect(earlyCode == 409 || earlyCode == 200)

        // Status: completed with one error, the 404, with its code and message.
        #expect(report["status"] as? String == "completed_with_errors")
        let counts = try #require(report["images"] as? [String: Int])
        #expect(counts["total"] == imageCount)
        #expect(counts["distinct"] == firstPlace.count)
        #expect(counts["resized"] == imageCount - 1)
        #expect(counts["failed"] == 1)
        let errors = try #require(report["errors"] as? [[String: Any]])
        #expect(errors.count == 1)
        #expect(errors.first?["code"] as? String == "http_status")
        #expect((errors.first?["message"] as? String)?.contains("404") == true)
        #expect(errors.first?["row"] as? Int == 6)
        #expect(errors.first?["position"] as? Int == 2)
        let bytes = try #require(report["bytes"] as? [String: Any])
        #expect((bytes["in"] as? Int ?? 0) > (bytes["out"] as? Int ?? 0))
        let outputURL = try #require(report["output_csv_url"] as? String)

        // Output CSV: every input row once, in order, input columns kept, outputs aligned with inputs.
        let (csvCode, csvBody) = try await HTTP.get(outputURL)
        #expect(csvCode == 200)
        let (records, problems) = CSVRecords.parse(String(decoding: csvBody, as: UTF8.self))
        #expect(problems.isEmpty)
        #expect(records.first?.fields == ["S. No.", "Product Name", "Brand", "Input Image Urls", "Output Image Urls"])
        #expect(records.count == 23)
        var checkedImages = 0
        for (index, record) in records.dropFirst().enumerated() {
            let row = index + 1
            #expect(record.fields[0] == String(row))
            #expect(record.fields[1] == "Product \(row), size M")
            #expect(record.fields[2] == "Acme")
            let outputs = record.fields[4].split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            #expect(outputs.count == expectedURLs[index].count, "row \(row)")
            for (position, output) in outputs.enumerated() {
                let input = expectedURLs[index][position]
                if input.hasSuffix("missing-photo.jpg") {
                    #expect(output.isEmpty, "the failed image leaves its slot empty")
                    continue
                }
                let first = try #require(firstPlace[input])
                #expect(output.hasPrefix("\(system.publicURL)/images/\(reference)/r\(first.row)-\(first.position)."))
                let (imageCode, imageBytes) = try await HTTP.get(output)
                #expect(imageCode == 200)
                let original = try ImageDecoder.decode(Array(try Data(contentsOf: Corpus.root.appendingPathComponent(String(input.split(separator: "/corpus/").last!))))).upright
                let halved = try ImageDecoder.decode(imageBytes)
                #expect(halved.orientation == .up)
                // Rounding: an odd side of n pixels becomes (n + 1) / 2.
                #expect(halved.pixels.width == (original.width + 1) / 2, "\(input)")
                #expect(halved.pixels.height == (original.height + 1) / 2, "\(input)")
                checkedImages += 1
            }
        }
        #expect(checkedImages == imageCount - 1)

        // History: every stage of every image, and the job's own transitions, in the events table.
        let pool = DatabasePool(url: environment.databaseURL, size: 1, logger: Logger(label: "test"))
        let store = JobStore(pool: pool)
        let jobID = try #require(try await store.report(reference: reference)?.id)
        let events = try await store.events(jobID: jobID)
        try await pool.shutdown()
        let jobEvents = events.filter { $0.itemID == nil }.map { "\($0.stage):\($0.status)" }
        #expect(jobEvents == ["ingest:queued", "downloader:processing", "csv-writer:writing", "csv-writer:completed_with_errors"])
        let byItem = Dictionary(grouping: events.filter { $0.itemID != nil }, by: { $0.itemID! })
        #expect(byItem.count == imageCount)
        var failedItems = 0, followers = 0
        for (_, itemEvents) in byItem {
            let history = itemEvents.map { "\($0.stage):\($0.status)" }
            if history == ["ingest:pending", "downloader:failed"] {
                failedItems += 1
                #expect(itemEvents.last?.errorCode == "http_status")
            } else if history == ["ingest:pending", "resizer:resized"] {
                // A follower: settled with the item whose URL it repeats.
                #expect(itemEvents.last?.message?.hasPrefix("the same URL as item ") == true)
                followers += 1
            } else {
                #expect(history == ["ingest:pending", "downloader:downloaded", "resizer:resized"])
            }
        }
        #expect(followers == imageCount - firstPlace.count)
        return firstPlace.count - 1  // every distinct URL but the one that answers 404
        #expect(failedItems == 1)
    }

    @Test func redeliveredMessagesChangeNothing() async throws {
        try await withSystem { images, system in try await runRedelivery(images: images, system: system) }
    }

    /// Uploads a CSV and waits for the job to finish; returns its status URL and final report.
    func runJob(_ csv: String, system: RunningSystem) async throws -> (statusURL: String, report: [String: Any]) {
        let (code, body) = try await HTTP.post("\(system.publicURL)/api/v1/jobs", body: Array(csv.utf8), contentType: "text/csv")
        #expect(code == 202)
        let statusURL = try #require(try HTTP.json(body)["status_url"] as? String)
        return (statusURL, try await waitForFinalStatus(statusURL))
    }

    func runRedelivery(images: ImageServer, system: RunningSystem) async throws {
        let (statusURL, before) = try await runJob("""
            S. No.,Product Name,Input Image Urls
            1,A,"\(images.url("corpus/j20_squirrel_0.2mp.jpg")), \(images.url("corpus/p03_photo_fruits_512.png"))"
            2,B,\(images.url("corpus/missing.jpg"))

            """, system: system)
        #expect(before["status"] as? String == "completed_with_errors")
        let reference = try #require((before["reference"] as? String).flatMap(JobReference.init))
        let outputURL = try #require(before["output_csv_url"] as? String)
        let outputBefore = try await HTTP.get(outputURL).1

        let pool = DatabasePool(url: environment.databaseURL, size: 1, logger: Logger(label: "test"))
        let store = JobStore(pool: pool)
        let jobID = try #require(try await store.report(reference: reference)?.id)
        let eventsBefore = try await store.events(jobID: jobID)
        let itemIDs = Set(eventsBefore.compactMap(\.itemID)).sorted()
        #expect(itemIDs.count == 3)

        // Every stage's message for this job again, as a broker redelivers after a lost ack.
        let broker = BrokerConnection(endpoint: try BrokerEndpoint(url: URL(string: environment.brokerURL)!), topology: BrokerTopology(),
                                      logger: Logger(label: "test.broker"))
        let running = Task { try await broker.run() }
        var duplicates = itemIDs.flatMap { itemID in
            [StageQueue.download, .resize].map { OutgoingMessage($0, StageMessage(job: reference, jobID: jobID, itemID: itemID)) }
        }
        duplicates.append(OutgoingMessage(.csv, StageMessage(job: reference, jobID: jobID)))
        try await broker.publish(duplicates)
        running.cancel()

        // A second job queues behind the duplicates in every queue: once it is done, they were consumed.
        let (_, sentinel) = try await runJob("S. No.,Product Name,Input Image Urls\n1,C,\(images.url("corpus/j16_building_0.5mp.jpg"))\n",
                                              system: system)
        #expect(sentinel["status"] as? String == "completed")

        let after = try HTTP.json(try await HTTP.get(statusURL).1)
        for key in ["status", "finished_at", "updated_at"] { #expect(after[key] as? String == before[key] as? String, "\(key)") }
        #expect(after["images"] as? [String: Int] == before["images"] as? [String: Int])
        #expect(try await store.events(jobID: jobID).count == eventsBefore.count, "no new events for the finished job")
        #expect(try await HTTP.get(outputURL).1 == outputBefore)
        try await pool.shutdown()
    }

    @Test func apiAnswersBadUploadsUnknownJobsAndUnfinishedOutput() async throws {
        try await withSystem(slowDelay: .seconds(4)) { images, system in
            // Every problem at once, with row, column, code and message.
            let bad = Array("S. No.,Product Name,Input Image Urls\nx,,not-a-url\n1,A,https://a.test/1.jpg\n1,B,https://a.test/2.jpg\n".utf8)
            let (code, body) = try await HTTP.post("\(system.publicURL)/api/v1/jobs", body: bad, contentType: "text/csv")
            #expect(code == 422)
            let error = try #require(try HTTP.json(body)["error"] as? [String: Any])
            #expect(error["code"] as? String == "invalid_csv")
            let details = try #require(error["details"] as? [[String: Any]])
            #expect(details.compactMap { $0["code"] as? String } == ["invalid_serial_number", "empty_product_name", "invalid_url", "duplicate_serial_number"])
            #expect(details.first?["row"] as? Int == 2)
            #expect(details.first?["column"] as? String == "S. No.")

            // The malformed corpus through the API: every case a 4xx naming rows, nothing accepted, nothing crashed.
            for planted in MalformedCSVs.all {
                let (code, body) = try await HTTP.post("\(system.publicURL)/api/v1/jobs", body: planted.bytes, contentType: "text/csv")
                #expect((400..<500).contains(code), "\(planted.name): \(code)")
                let details = (try? HTTP.json(body)["error"] as? [String: Any])?["details"] as? [[String: Any]] ?? []
                #expect(details.contains { $0["row"] as? Int == planted.row }, "\(planted.name): \(details)")
            }
            #expect(try await HTTP.get("\(system.publicURL)/healthz").0 == 200)

            let (emptyCode, emptyBody) = try await HTTP.post("\(system.publicURL)/api/v1/jobs", body: [], contentType: "text/csv")
            #expect(emptyCode == 422)
            #expect(String(decoding: emptyBody, as: UTF8.self).contains("empty_file"))

            let (typeCode, _) = try await HTTP.post("\(system.publicURL)/api/v1/jobs", body: Array("x".utf8), contentType: "application/pdf")
            #expect(typeCode == 415)

            let unknown = JobReference.generate()
            #expect(try await HTTP.get("\(system.publicURL)/api/v1/jobs/\(unknown)").0 == 404)
            #expect(try await HTTP.get("\(system.publicURL)/api/v1/jobs/\(unknown)/output.csv").0 == 404)
            #expect(try await HTTP.get("\(system.publicURL)/api/v1/jobs/nonsense").0 == 404)
            #expect(try await HTTP.get("\(system.publicURL)/images/\(unknown)/../../etc/passwd").0 == 404)

            // A job whose image server is slow: its output is 409 until it is ready, then 200.
            let slow = Array("S. No.,Product Name,Input Image Urls\n1,Slow,\(images.url("slow/j20_squirrel_0.2mp.jpg"))\n".utf8)
            let (slowCode, slowBody) = try await HTTP.post("\(system.publicURL)/api/v1/jobs", body: slow, contentType: "text/csv")
            #expect(slowCode == 202)
            let accepted = try HTTP.json(slowBody)
            let reference = try #require(accepted["reference"] as? String)
            let (pendingCode, pendingBody) = try await HTTP.get("\(system.publicURL)/api/v1/jobs/\(reference)/output.csv")
            #expect(pendingCode == 409)
            #expect(String(decoding: pendingBody, as: UTF8.self).contains("not_ready"))
            let (statusCode, statusBody) = try await HTTP.get("\(system.publicURL)/api/v1/jobs/\(reference)")
            #expect(statusCode == 200)
            #expect(["queued", "processing"].contains(try HTTP.json(statusBody)["status"] as? String ?? ""))
            let report = try await waitForFinalStatus(try #require(accepted["status_url"] as? String))
            #expect(report["status"] as? String == "completed")
            #expect(try await HTTP.get("\(system.publicURL)/api/v1/jobs/\(reference)/output.csv").0 == 200)

            // Uploads at the same moment each get their own reference.
            let sameMoment = Array("S. No.,Product Name,Input Image Urls\n1,D,\(images.url("corpus/j20_squirrel_0.2mp.jpg"))\n".utf8)
            let publicURL = system.publicURL
            let statusURLs = try await withThrowingTaskGroup(of: (String, String).self) { group in
                for _ in 0..<8 {
                    group.addTask {
                        let (code, body) = try await HTTP.post("\(publicURL)/api/v1/jobs", body: sameMoment, contentType: "text/csv")
                        #expect(code == 202)
                        let accepted = try HTTP.json(body)
                        return (accepted["reference"] as? String ?? "", accepted["status_url"] as? String ?? "")
                    }
                }
                var seen: [(String, String)] = []
                for try await accepted in group { seen.append(accepted) }
                return seen
            }
            #expect(Set(statusURLs.map(\.0)).count == 8, "\(statusURLs.map(\.0))")
            for (_, url) in statusURLs { #expect(try await waitForFinalStatus(url)["status"] as? String == "completed") }

            // An output larger than its input is kept and named in the status API.
            let (growStatusURL, grewReport) = try await runJob(
                "S. No.,Product Name,Input Image Urls\n1,E,\(images.url("generated/low-quality.jpg"))\n", system: system)
            #expect(grewReport["status"] as? String == "completed")
            let grewBytes = try #require(grewReport["bytes"] as? [String: Any])
            #expect(grewBytes["grew"] as? Int == 1)
            let grown = try #require(grewReport["grown"] as? [[String: Any]])
            #expect(grown.count == 1)
            #expect((grown.first?["bytes_out"] as? Int ?? 0) > (grown.first?["bytes_in"] as? Int ?? 0), "\(growStatusURL): \(grown)")
            #expect(grown.first?["url"] as? String == images.url("generated/low-quality.jpg"))

            let (pageCode, page) = try await HTTP.get("\(system.publicURL)/")
            #expect(pageCode == 200)
            #expect(String(decoding: page, as: UTF8.self).contains("name=\"file\""))
        }
    }
}
