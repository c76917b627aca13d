import Foundation
import HalfsizeCore
import ProductCSV
import TestCorpus
import Testing

/// The pages work as plain HTML forms and links, without JavaScript: upload, the reference page a
/// successful upload redirects to, the problems page of a bad CSV, the status page, lookup and 404.
extension PipelineTests {
    @Test func pagesWorkWithoutJavaScript() async throws {
        try await withSystem { images, system in
            let form = FileManager.default.temporaryDirectory.appendingPathComponent("halfsize-form-\(UUID()).csv")
            defer { try? FileManager.default.removeItem(at: form) }
            func post(_ csv: String) throws -> (status: Int, headers: String, body: String) {
                try csv.write(to: form, atomically: true, encoding: .utf8)
                return try Curl.run(["-F", "file=@\(form.path);type=text/csv", "\(system.publicURL)/jobs"])
            }

            let (home, upload) = (try Curl.run(["\(system.publicURL)/"]), try Curl.run(["\(system.publicURL)/sample.csv"]))
            #expect(home.status == 200 && home.body.contains("action=\"/jobs\"") && home.body.contains("action=\"/lookup\""))
            #expect(!home.body.contains("<script"), "the upload page needs no script")
            #expect(upload.status == 200 && (try? ProductSheet.validate(upload.body).get()) != nil, "the sample CSV is one halfsize accepts")

            // A good CSV: 303 to the page with the reference, never a second upload on reload.
            let good = try post("S. No.,Product Name,Input Image Urls\n1,=Shirt,\"\(images.url("corpus/j20_squirrel_0.2mp.jpg")), \(images.url("corpus/missing.jpg"))\"\n")
            #expect(good.status == 303, "\(good.headers)")
            let location = good.headers.split(separator: "\r\n").first { $0.lowercased().hasPrefix("location:") }.map { $0.dropFirst(9).trimmingCharacters(in: .whitespaces) } ?? ""
            let reference = try #require(location.split(separator: "/").dropLast().last.map(String.init).flatMap(JobReference.init), "\(location)")
            #expect(location == "/jobs/\(reference)/uploaded")
            let uploaded = try Curl.run(["\(system.publicURL)\(location)"])
            #expect(uploaded.status == 200 && uploaded.body.contains("class=\"reference\" id=\"reference\">\(reference)<"))

            // The status page refreshes itself until the job is done, then offers the CSV and explains the failure.
            var status = try Curl.run(["\(system.publicURL)/jobs/\(reference)"])
            for _ in 0..<240 where !status.body.contains("data-status=\"completed_with_errors\"") {
                #expect(status.status == 200)
                #expect(status.body.contains("http-equiv=\"refresh\""), "a running job's page refreshes itself")
                try await Task.sleep(for: .milliseconds(250))
                status = try Curl.run(["\(system.publicURL)/jobs/\(reference)"])
            }
            #expect(status.body.contains("data-status=\"completed_with_errors\""))
            #expect(!status.body.contains("http-equiv=\"refresh\""), "a finished job's page stays put")
            #expect(status.body.contains("/api/v1/jobs/\(reference)/output.csv"))
            #expect(status.body.contains("(http_status)") && status.body.contains("check the address opens in a browser"))
            #expect(status.body.contains("<img src=\"\(system.publicURL)/images/\(reference)/r2-1.jpg\""))
            #expect(!status.body.contains("{{"))

            // A bad CSV: 422 and a row for every problem, with what to do.
            let bad = try post("S. No.,Product Name,Input Image Urls\nx,,notaurl\n2,B,\n")
            #expect(bad.status == 422)
            for fragment in ["(invalid_serial_number)", "(empty_product_name)", "(invalid_url)", "(no_image_url)", "<td>2</td>", "<td>3</td>"] {
                #expect(bad.body.contains(fragment), "\(fragment)")
            }

            // The API lists at most 1000 problems and says how many there are.
            let manyBad = "S. No.,Product Name,Input Image Urls\n" + (1...1200).map { "x\($0),P,https://a.test/\($0).jpg" }.joined(separator: "\n")
            let (apiCode, apiBody) = try await HTTP.post("\(system.publicURL)/api/v1/jobs", body: Array(manyBad.utf8), contentType: "text/csv")
            let apiError = try #require(try HTTP.json(apiBody)["error"] as? [String: Any])
            #expect(apiCode == 422 && (apiError["details"] as? [Any])?.count == 1000)
            #expect((apiError["message"] as? String)?.contains("1200 problems; the first 1000 are listed") == true, "\(apiError["message"] ?? "")")

            // Lookup: a pasted reference in lower case with spaces finds the job; anything else is a 404 page with the box.
            let found = try Curl.run(["-G", "--data-urlencode", "reference=  \(reference.rawValue.lowercased()) ", "\(system.publicURL)/lookup"])
            #expect(found.status == 303 && found.headers.contains("/jobs/\(reference)"))
            for missing in ["\(system.publicURL)/lookup?reference=nope", "\(system.publicURL)/jobs/\(JobReference.generate())", "\(system.publicURL)/jobs/<script>"] {
                let answer = try Curl.run([missing])
                #expect(answer.status == 404 && answer.body.contains("action=\"/lookup\"") && !answer.body.contains("<script>"), "\(missing)")
            }
        }
    }
}
