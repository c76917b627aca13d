import Foundation
import HalfsizeCore
import ProductCSV
import Testing

/// A finished job's failed images can be sent round again under the same reference.
extension PipelineTests {
    @Test func failedImagesAreRetriedUnderTheSameReference() async throws {
        try await withSystem { images, system in
            let csv = "S. No.,Product Name,Input Image Urls\n1,Shirt,\(images.url("corpus/j20_squirrel_0.2mp.jpg"))\n"
                + "2,Bag,\"\(images.url("appears/bag/j17_donna_0.4mp.jpg")), \(images.url("corpus/p03_photo_fruits_512.png"))\"\n"
            let (statusURL, report) = try await runJob(csv, system: system)
            #expect(report["status"] as? String == "completed_with_errors")
            let reference = try #require(report["reference"] as? String)
            let retryURL = "\(system.publicURL)/api/v1/jobs/\(reference)/retry"

            let (code, body) = try await HTTP.post(retryURL, body: [], contentType: "application/json")
            #expect(code == 202, "\(String(decoding: body, as: UTF8.self))")
            #expect(try HTTP.json(body)["images"] as? Int == 1)
            let again = try await waitForFinalStatus(statusURL)
            #expect(again["status"] as? String == "completed")
            #expect((again["images"] as? [String: Int]) == ["total": 3, "distinct": 3, "pending": 0, "downloaded": 0, "resized": 3, "failed": 0])
            #expect((again["errors"] as? [Any])?.isEmpty == true)

            // The new output CSV has the retried image in its slot.
            let outputURL = try #require(again["output_csv_url"] as? String)
            let (records, _) = CSVRecords.parse(String(decoding: try await HTTP.get(outputURL).1, as: UTF8.self))
            let slots = records.last?.fields.last?.split(separator: ",").map(String.init) ?? []
            #expect(slots.count == 2 && slots.allSatisfy { $0.contains("/images/\(reference)/r3-") }, "\(slots)")

            // The events show the retry; a job with nothing failed, or unknown, cannot be retried.
            let retried = try await withStore { store in
                try await store.pool.withConnection { connection in
                    try connection.query("""
                        SELECT e.message FROM events e JOIN jobs j ON j.id = e.job_id WHERE j.reference = $1 AND e.status = 'retried'
                        """, [reference]).rows.map { $0[0] ?? "" }
                }
            }
            #expect(retried == ["1 failed image(s) sent again"])
            let (doneCode, doneBody) = try await HTTP.post(retryURL, body: [], contentType: "application/json")
            #expect(doneCode == 409 && String(decoding: doneBody, as: UTF8.self).contains("\"not_ready\""))
            #expect(try await HTTP.post("\(system.publicURL)/api/v1/jobs/\(JobReference.generate())/retry", body: [], contentType: "application/json").0 == 404)
            let page = try Curl.run(["-X", "POST", "\(system.publicURL)/jobs/\(reference)/retry"])
            #expect(page.status == 409 && page.body.contains("(not_ready)"))
        }
    }
}
