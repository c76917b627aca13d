import Foundation
import HalfsizeCore
import Testing

/// Disk that does not fill up: an original goes once its image settled, and a finished job's
/// files go after the retention period while its row and status stay.
extension PipelineTests {
    @Test func originalsGoWhenSettledAndAJobsFilesAfterRetention() async throws {
        try await withSystem(extra: ["HALFSIZE_RETENTION": "10s"]) { images, system in
            let (statusURL, report) = try await runJob("""
                S. No.,Product Name,Input Image Urls
                1,A,"\(images.url("corpus/j20_squirrel_0.2mp.jpg")), \(images.url("corpus/p03_photo_fruits_512.png"))"
                2,B,\(images.url("corpus/missing.jpg"))

                """, system: system)
            #expect(report["status"] as? String == "completed_with_errors")
            let reference = try #require(report["reference"] as? String)
            let data = system.dataDirectory
            func exists(_ relative: String) -> Bool { FileManager.default.fileExists(atPath: data.appendingPathComponent(relative).path) }
            #expect(!exists("raw/\(reference)"), "every original is deleted once its image settled")
            #expect(exists("images/\(reference)/r2-1.jpg") && exists("output/\(reference).csv") && exists("uploads/\(reference).csv"))
            let imageURL = "\(system.publicURL)/images/\(reference)/r2-1.jpg"

            var expired: [String: Any] = [:]
            let deadline = ContinuousClock.now + .seconds(60)
            while ContinuousClock.now < deadline {
                expired = try HTTP.json(try await HTTP.get(statusURL).1)
                if expired["files_expired_at"] is String { break }
                try await Task.sleep(for: .milliseconds(250))
            }
            #expect(expired["files_expired_at"] is String, "the retention sweep removed the files")
            #expect(expired["status"] as? String == "completed_with_errors")
            #expect(expired["images"] as? [String: Int] == report["images"] as? [String: Int], "the job's row and counts stay")
            #expect(!(expired["output_csv_url"] is String), "no output URL once the files are gone")
            for relative in ["images/\(reference)", "output/\(reference).csv", "uploads/\(reference).csv", "raw/\(reference)"] {
                #expect(!exists(relative), "\(relative) is gone")
            }
            let (csvCode, csvBody) = try await HTTP.get("\(system.publicURL)/api/v1/jobs/\(reference)/output.csv")
            #expect(csvCode == 410)
            #expect(String(decoding: csvBody, as: UTF8.self).contains("files_expired"))
            #expect(try await HTTP.get(imageURL).0 == 410)
        }
    }
}
