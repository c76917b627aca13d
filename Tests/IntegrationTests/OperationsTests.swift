import Foundation
import HalfsizeCore
import JobStore
import Logging
import Operations
import TestCorpus
import Testing
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// What operators rely on: every service's metrics agree with PostgreSQL, and resizers can be
/// added and removed while a job runs without losing or doubling an image.
extension PipelineTests {
    func databaseNow() async throws -> String {
        try await withStore { store in
            try await store.pool.withConnection { try $0.query("SELECT now()::text").rows.first?[0] ?? "" }
        }
    }

    func itemsResized(since: String) async throws -> Int {
        try await withStore { store in
            try await store.pool.withConnection {
                // Rows naming a URL an earlier row names share its download and halving: not counted.
                try $0.query("SELECT count(*) FROM items WHERE status = 'resized' AND same_as IS NULL AND updated_at >= $1::timestamptz",
                             [since]).rows.first?[0]
            }.flatMap { Int($0) } ?? -1
        }
    }

    /// After the end-to-end job: images resized = resize messages acked = distinct items resized in
    /// PostgreSQL since the system started (tests run one system at a time), and the other
    /// services' counters match the job.
    func checkMetricsAddUp(_ system: RunningSystem, since: String) async throws {
        let resizedInDatabase = try await itemsResized(since: since)
        #expect(resizedInDatabase > 0)
        // A worker counts its ack just after the broker confirmed what it published, which may be
        // a moment after the job's status shows the result.
        var resizer = try await system.metrics("resizer")
        for _ in 0..<50 where resizer.total("halfsize_messages_acked_total", ["queue": "halfsize.resize"]) < resizedInDatabase {
            try await Task.sleep(for: .milliseconds(100))
            resizer = try await system.metrics("resizer")
        }
        #expect(resizer.total("halfsize_images_resized_total") == resizedInDatabase)
        #expect(resizer.total("halfsize_messages_acked_total", ["queue": "halfsize.resize"]) == resizedInDatabase)
        #expect(resizer.total("halfsize_messages_consumed_total", ["queue": "halfsize.resize"]) == resizedInDatabase)
        #expect(resizer.total("halfsize_resize_seconds_count") == resizedInDatabase)
        #expect(resizer.total("halfsize_resize_decode_seconds_count") == resizedInDatabase)
        #expect(resizer.total("halfsize_resize_encode_seconds_count", ["format": "png"]) > 0)
        #expect(resizer.total("halfsize_resize_pixels_total") > 0)
        #expect(resizer.total("halfsize_resize_bytes_in_total") > resizer.total("halfsize_resize_bytes_out_total"))
        #expect(resizer.total("halfsize_in_flight") == 0)

        let downloader = try await system.metrics("downloader")
        #expect(downloader.total("halfsize_messages_published_total", ["queue": "halfsize.resize"]) == resizedInDatabase)
        #expect(downloader.total("halfsize_download_responses_total", ["class": "2xx"]) == resizedInDatabase)
        #expect(downloader.total("halfsize_download_responses_total", ["class": "4xx"]) == 1)
        #expect(downloader.total("halfsize_images_failed_total", ["code": "http_status"]) == 1)
        #expect(downloader.total("halfsize_download_seconds_count") == resizedInDatabase + 1)
        #expect(downloader.total("halfsize_download_bytes_total") == resizer.total("halfsize_resize_bytes_in_total"))

        var writer = try await system.metrics("csv-writer")
        for _ in 0..<50 where writer.total("halfsize_jobs_finished_total") < 1 {
            try await Task.sleep(for: .milliseconds(100))
            writer = try await system.metrics("csv-writer")
        }
        #expect(writer.total("halfsize_jobs_finished_total", ["status": "completed_with_errors"]) == 1)

        let ingest = try await system.metrics("ingest")
        #expect(ingest.total("halfsize_http_requests_total", ["route": "/api/v1/jobs", "method": "POST", "status": "202"]) == 1)
        #expect(ingest.total("halfsize_messages_published_total", ["queue": "halfsize.download"]) == resizedInDatabase + 1)
    }

    /// One resizer, a job of 400 images, three resizers while it runs, one again before it ends:
    /// the queue view shows 1 → 3 → 1 consumers on halfsize.resize and every image ends once.
    @Test func resizersScaleUpAndDownWhileAJobRuns() async throws {
        let files = Corpus.images.filter { $0.hasSuffix(".jpg") }
        try #require(!files.isEmpty, "no corpus at \(Corpus.root.path): set HALFSIZE_TEST_CORPUS")
        let images = try await ImageServer.start(slowDelay: .seconds(1))
        defer { images.stop() }
        let system = try await RunningSystem.start(environment, extra: ["HALFSIZE_CONCURRENCY": "1", "HALFSIZE_PREFETCH": "4"],
                                                   services: ["ingest", "downloader", "csv-writer"])
        let run = system.dataDirectory.deletingLastPathComponent().appendingPathComponent("run")
        func scale(_ count: Int) throws -> String {
            let control = Process()
            control.executableURL = environment.binaries.appendingPathComponent("halfsizectl")
            control.arguments = ["scale", "resizer", "\(count)", "--run-dir", run.path, "--stop-timeout", "60"]
            control.environment = system.variables
            // A file, not a pipe: reading a pipe to its end would also wait on anything that inherited it.
            let output = run.deletingLastPathComponent().appendingPathComponent("halfsizectl-\(UUID()).out")
            FileManager.default.createFile(atPath: output.path, contents: nil)
            let handle = try FileHandle(forWritingTo: output)
            control.standardOutput = handle
            control.standardError = handle
            try control.run()
            control.waitUntilExit()
            try handle.close()
            let text = try String(contentsOf: output, encoding: .utf8)
            #expect(control.terminationStatus == 0, "\(text)")
            return text
        }
        func resizeConsumers() async throws -> Int {
            let (code, body) = try await HTTP.get("\(system.publicURL)/api/v1/queues")
            #expect(code == 200)
            let overview = try JSONDecoder().decode(QueueOverview.self, from: Data(body))
            return overview.queues.first { $0.name == "halfsize.resize" }?.consumers ?? -1
        }
        func waitForConsumers(_ count: Int) async throws -> Int {
            var seen = -1
            for _ in 0..<150 {
                seen = try await resizeConsumers()
                if seen == count { return seen }
                try await Task.sleep(for: .milliseconds(200))
            }
            return seen
        }
        defer {
            _ = try? scale(0)
            system.stop()
        }

        let first = try scale(1)
        #expect(first.contains("resizer: 0 → 1 running"), "\(first)")
        #expect(try await waitForConsumers(1) == 1)
        let lines = ["S. No.,Product Name,Brand,Input Image Urls"] + (1...200).map { row in
            "\(row),Product \(row),Acme,\"\(images.url("corpus/\(files[row % files.count])?copy=\(row)-1")),\(images.url("corpus/\(files[(row * 7) % files.count])?copy=\(row)-2"))\""
        }
        let form = HTTP.multipart(field: "file", filename: "big.csv", content: Array((lines.joined(separator: "\n") + "\n").utf8))
        let (code, body) = try await HTTP.post("\(system.publicURL)/api/v1/jobs", body: form.body, contentType: form.contentType)
        #expect(code == 202)
        let statusURL = try #require(try HTTP.json(body)["status_url"] as? String)

        func resized() async throws -> Int {
            let report = try HTTP.json(try await HTTP.get(statusURL).1)
            return (report["images"] as? [String: Int])?["resized"] ?? 0
        }
        // Scale up once the first images are done, and down while most are still to do.
        while try await resized() < 20 { try await Task.sleep(for: .milliseconds(100)) }
        let up = try scale(3)
        #expect(up.contains("resizer: 1 → 3 running"), "\(up)")
        #expect(try await waitForConsumers(3) == 3)
        let beforeScaleDown = try await resized()
        let down = try scale(1)
        #expect(down.contains("resizer: 3 → 1 running"), "\(down)")
        #expect(try await waitForConsumers(1) == 1)
        let afterScaleDown = try await resized()
        #expect(afterScaleDown < 400, "the job must still be running when the resizers are scaled down (\(beforeScaleDown) → \(afterScaleDown))")
        print("scaling: 1 → 3 resizers after 20 of 400 images; 3 → 1 between \(beforeScaleDown) and \(afterScaleDown)")

        let report = try await waitForFinalStatus(statusURL)
        #expect(report["status"] as? String == "completed")
        let counts = try #require(report["images"] as? [String: Int])
        #expect(counts["total"] == 400 && counts["resized"] == 400 && counts["failed"] == 0, "\(counts)")
        // Nothing twice: each image was settled by exactly one resize event.
        let reference = try #require(report["reference"] as? String)
        let settledTwice = try await withStore { store in
            try await store.pool.withConnection { connection in
                try connection.query("""
                    SELECT count(*) FROM (SELECT e.item_id FROM events e JOIN jobs j ON j.id = e.job_id
                    WHERE j.reference = $1 AND e.status = 'resized' GROUP BY e.item_id HAVING count(*) > 1) doubled
                    """, [reference]).rows.first?[0]
            }
        }
        #expect(settledTwice == "0")
        let outputs = try FileManager.default.contentsOfDirectory(atPath: system.dataDirectory.appendingPathComponent("images/\(reference)").path)
        #expect(outputs.count == 400)
    }
}
