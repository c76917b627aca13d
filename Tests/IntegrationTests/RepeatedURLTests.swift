import Foundation
import HalfsizeCore
import ProductCSV
import Testing

/// Catalogues name one image in many rows: each distinct URL is downloaded and halved once, and
/// every row naming it gets its output, or its error.
extension PipelineTests {
    @Test func aURLNamedInManyRowsIsFetchedOnceAndEveryRowGetsTheResult() async throws {
        let supplier = try SupplierServer.start()
        defer { supplier.stop() }
        try await withSystem { _, system in
            let photo = supplier.url("ok/j20_squirrel_0.2mp.jpg"), gone = supplier.url("missing/shirt.jpg")
            let csv = """
                S. No.,Product Name,Input Image Urls
                1,Shirt S,"\(photo), \(gone)"
                2,Shirt M,\(photo)
                3,Shirt L,"\(gone), \(photo)"
                """
            let (_, report) = try await runJob(csv + "\n", system: system)
            #expect(report["status"] as? String == "completed_with_errors")
            #expect((report["images"] as? [String: Int]) == ["total": 5, "distinct": 2, "pending": 0, "downloaded": 0, "resized": 3, "failed": 2])
            let errors = try #require(report["errors"] as? [[String: Any]])
            #expect(errors.map { "\($0["row"] ?? ""):\($0["position"] ?? ""):\($0["code"] ?? "")" } == ["2:2:http_status", "4:1:http_status"])
            let requests = try await supplier.requests()
            #expect(requests["/ok/j20_squirrel_0.2mp.jpg"] == 1 && requests["/missing/shirt.jpg"] == 1, "\(requests)")

            let outputURL = try #require(report["output_csv_url"] as? String)
            let (records, _) = CSVRecords.parse(String(decoding: try await HTTP.get(outputURL).1, as: UTF8.self))
            let outputs = records.dropFirst().map { $0.fields.last ?? "" }
            let reference = try #require(report["reference"] as? String)
            let halved = "\(system.publicURL)/images/\(reference)/r2-1.jpg"
            #expect(outputs == ["\(halved),", halved, ",\(halved)"])
            #expect(try await HTTP.get(halved).0 == 200)
        }
    }
}
