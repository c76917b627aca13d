import Fetching
import Foundation
import HalfsizeCore
import JobStore
import Pipeline
import Testing

/// Webhooks: given at upload, POSTed when the job ends, signed, retried, recorded.
extension PipelineTests {
    static let webhookSecret = "test-webhook-secret-0123456789"

    @Test func aWebhookIsSignedRetriedAfterFailuresAndRecorded() async throws {
        try await withSystem(extra: ["HALFSIZE_WEBHOOK_SECRET": Self.webhookSecret, "HALFSIZE_WEBHOOK_RETRY_DELAY": "1s"]) { images, system in
            let csv = "S. No.,Product Name,Input Image Urls\n1,Shirt,\"\(images.url("corpus/j20_squirrel_0.2mp.jpg")), \(images.url("corpus/missing.jpg"))\"\n"
            // The receiver answers 500 twice, then 204.
            let form = HTTP.multipart(field: "file", filename: "shirts.csv", content: Array(csv.utf8),
                                      fields: ["webhook_url": images.url("webhook/shirts?fail=2")])
            let (code, body) = try await HTTP.post("\(system.publicURL)/api/v1/jobs", body: form.body, contentType: form.contentType)
            #expect(code == 202, "\(String(decoding: body, as: UTF8.self))")
            let statusURL = try #require(try HTTP.json(body)["status_url"] as? String)
            let finished = try await waitForFinalStatus(statusURL)
            #expect(finished["status"] as? String == "completed_with_errors")

            var report = finished
            for _ in 0..<120 where (report["webhook"] as? [String: Any])?["state"] as? String != "delivered" {
                try await Task.sleep(for: .milliseconds(250))
                report = try HTTP.json(try await HTTP.get(statusURL).1)
            }
            let webhook = try #require(report["webhook"] as? [String: Any])
            #expect(webhook["url"] as? String == images.url("webhook/shirts?fail=2"))
            #expect(webhook["state"] as? String == "delivered")
            let attempts = try #require(webhook["attempts"] as? [[String: Any]])
            #expect(attempts.map { $0["status_code"] as? Int } == [500, 500, 204])
            #expect(attempts.map { $0["attempt"] as? Int } == [1, 2, 3])
            #expect(attempts.map { ($0["error"] as? [String: Any])?["code"] as? String } == ["http_status", "http_status", nil])

            // Three deliveries of the same body, each signed over its timestamp and the body.
            let deliveries = images.webhooks.received("shirts")
            #expect(deliveries.count == 3)
            #expect(Set(deliveries.map(\.body)).count == 1)
            for delivery in deliveries {
                #expect(delivery.contentType == "application/json")
                let signature = try #require(delivery.signature)
                let fields = Dictionary(uniqueKeysWithValues: signature.split(separator: ",").map { pair in
                    let parts = pair.split(separator: "=", maxSplits: 1).map(String.init)
                    return (parts[0], parts.count > 1 ? parts[1] : "")
                })
                let timestamp = try #require(fields["t"].flatMap { Int($0) })
                #expect(abs(timestamp - Int(Date().timeIntervalSince1970)) < 600)
                #expect(fields["v1"] == (try opensslHMAC(key: Self.webhookSecret, message: Array("\(timestamp).".utf8) + delivery.body)))
            }
            let payload = try HTTP.json(try #require(deliveries.last).body)
            #expect(payload["reference"] as? String == finished["reference"] as? String)
            #expect(payload["status"] as? String == "completed_with_errors")
            #expect(payload["output_csv_url"] as? String == finished["output_csv_url"] as? String)
            #expect(payload["finished_at"] as? String == finished["finished_at"] as? String)
            let counts = try #require(payload["images"] as? [String: Int])
            #expect(counts["total"] == 2 && counts["resized"] == 1 && counts["failed"] == 1)
            #expect(((payload["bytes"] as? [String: Any])?["in"] as? Int ?? 0) > 0)

            // The status page lists the attempts.
            let reference = try #require(finished["reference"] as? String)
            let page = try Curl.run(["\(system.publicURL)/jobs/\(reference)"])
            #expect(page.status == 200 && page.body.contains("Webhook") && page.body.contains("delivered"), "\(page.body)")
        }
    }

    /// The upload's limits hold before and while the body arrives, and a bad webhook address is
    /// refused at upload.
    @Test func uploadsAreRefusedBeforeTheirBodyWhenTooLargeAndWebhooksMustBeUsable() async throws {
        try await withSystem(extra: ["HALFSIZE_MAX_UPLOAD_BYTES": "65536"]) { images, system in
            let jobs = "\(system.publicURL)/api/v1/jobs"
            // A declared length over the limit is answered at once: curl sends 10 bytes of the
            // 10 MB it announces and gets its answer without sending the rest.
            let declared = try Curl.run(["--max-time", "20", "-X", "POST", "-H", "Content-Type: text/csv", "-H", "Content-Length: 10000000",
                                         "--data-binary", "S. No.,Pro", jobs])
            #expect(declared.status == 413 && declared.body.contains("\"upload_too_large\""), "\(declared)")
            // A chunked body (no length) is stopped once it passes the limit.
            let big = FileManager.default.temporaryDirectory.appendingPathComponent("big-\(UUID()).csv")
            try Data(repeating: UInt8(ascii: "a"), count: 200_000).write(to: big)
            defer { try? FileManager.default.removeItem(at: big) }
            let chunked = try Curl.run(["--max-time", "20", "-X", "POST", "-H", "Content-Type: text/csv", "-H", "Transfer-Encoding: chunked",
                                        "--data-binary", "@\(big.path)", jobs])
            #expect(chunked.status == 413 && chunked.body.contains("\"upload_too_large\""), "\(chunked)")
            // A form cut short inside its file part.
            let csv = "S. No.,Product Name,Input Image Urls\n1,A,\(images.url("corpus/j20_squirrel_0.2mp.jpg"))\n"
            let form = HTTP.multipart(field: "file", filename: "a.csv", content: Array(csv.utf8))
            let (cutCode, cutBody) = try await HTTP.post(jobs, body: Array(form.body.dropLast(30)), contentType: form.contentType)
            #expect(cutCode == 400 && String(decoding: cutBody, as: UTF8.self).contains("ends inside a part"))
            // Webhook addresses: refused as image URLs are, from the form and the query.
            let ftp = HTTP.multipart(field: "file", filename: "a.csv", content: Array(csv.utf8), fields: ["webhook_url": "ftp://example.com/hook"])
            let (ftpCode, ftpBody) = try await HTTP.post(jobs, body: ftp.body, contentType: ftp.contentType)
            #expect(ftpCode == 422 && String(decoding: ftpBody, as: UTF8.self).contains("\"invalid_webhook_url\""))
            let (queryCode, queryBody) = try await HTTP.post("\(jobs)?webhook_url=https%3A%2F%2Fuser%3Apw%40example.com%2Fhook",
                                                             body: Array(csv.utf8), contentType: "text/csv")
            #expect(queryCode == 422 && !String(decoding: queryBody, as: UTF8.self).contains("pw@"))
            let (okCode, okBody) = try await HTTP.post("\(jobs)?webhook_url=\(images.url("webhook/query"))", body: Array(csv.utf8), contentType: "text/csv")
            #expect(okCode == 202)
            let report = try await waitForFinalStatus(try #require(try HTTP.json(okBody)["status_url"] as? String))
            #expect((report["webhook"] as? [String: Any])?["url"] as? String == images.url("webhook/query"))
        }
    }

    @Test func aWebhookAttemptIsRetriedUntilTheAttemptsRunOutButNeverToARefusedAddress() {
        let settings = WebhookSettings(secret: nil, maximumAttempts: 3, retryDelay: .seconds(10))
        let serverError = FetchFailure(error: HalfsizeError(.httpStatus, "HTTP 503"), kind: .transient, retryAfter: .seconds(120), statusCode: 503)
        guard case .retry(503, _, let delay) = settings.outcome(after: serverError, attempt: 1) else { Issue.record("503 is retried"); return }
        #expect(delay == .seconds(120), "Retry-After is honoured when longer than the backoff")
        guard case .retry(nil, _, let second) = settings.outcome(after: FetchFailure(error: HalfsizeError(.downloadFailed, "reset"), kind: .transient), attempt: 2)
        else { Issue.record("a reset is retried"); return }
        #expect(second >= .seconds(16) && second <= .seconds(24))
        guard case .failed(503, _) = settings.outcome(after: serverError, attempt: 3) else { Issue.record("the last attempt fails"); return }
        let blocked = FetchFailure(error: HalfsizeError(.blockedAddress, "refused to connect to 10.0.0.1"), kind: .permanent)
        guard case .failed(nil, let error) = settings.outcome(after: blocked, attempt: 1) else { Issue.record("a refused address fails at once"); return }
        #expect(error.code == .blockedAddress)
    }

    @Test func theSignatureIsHMACSHA256() throws {
        // RFC 4231, test case 2.
        let digest = WebhookSignature.hmacSHA256(key: Array("Jefe".utf8), message: Array("what do ya want for nothing?".utf8))
        #expect(WebhookSignature.hex(digest) == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
    }
}

/// The HMAC as `openssl dgst` computes it, independently of the code under test.
func opensslHMAC(key: String, message: [UInt8]) throws -> String {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
    process.arguments = ["dgst", "-sha256", "-hmac", key, "-r"]
    let input = Pipe(), output = Pipe()
    process.standardInput = input
    process.standardOutput = output
    try process.run()
    input.fileHandleForWriting.write(Data(message))
    try input.fileHandleForWriting.close()
    let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    return String(text.prefix { $0 != " " })
}
