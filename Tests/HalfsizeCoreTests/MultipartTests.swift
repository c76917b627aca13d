import HalfsizeCore
import ProductCSV
import Testing

@Suite("Multipart uploads, read as they arrive")
struct MultipartTests {
    let body = Array("""
        preamble is ignored\r
        --B0undary\r
        Content-Disposition: form-data; name="file"; filename="shirts \\"v2\\".csv"\r
        Content-Type: text/csv\r
        \r
        S. No.,Product Name,Input Image Urls\r
        1,"A, --B0undar",https://e.com/a.jpg\r
        \r
        --B0undary\r
        Content-Disposition: form-data; name="webhook_url"\r
        \r
        https://hooks.example.com/done\r
        --B0undary--\r

        """.utf8)

    @Test(arguments: [1, 7, 64, 10_000])
    func partsAreTheSameWhateverTheChunks(chunkSize: Int) throws {
        let reader = MultipartFormReader(boundary: "B0undary")
        for start in stride(from: 0, to: body.count, by: chunkSize) {
            try reader.consume(Array(body[start..<min(start + chunkSize, body.count)]))
        }
        let parts = try reader.finish()
        #expect(parts.map(\.name) == ["file", "webhook_url"])
        #expect(parts[0].filename == "shirts \"v2\".csv")
        #expect(parts[0].contentType == "text/csv")
        #expect(String(decoding: parts[0].body, as: UTF8.self) == "S. No.,Product Name,Input Image Urls\r\n1,\"A, --B0undar\",https://e.com/a.jpg\r\n")
        #expect(String(decoding: parts[1].body, as: UTF8.self) == "https://hooks.example.com/done")
    }

    @Test func aBodyCutInsideAPartIsRefused() throws {
        let reader = MultipartFormReader(boundary: "B0undary")
        try reader.consume(Array(body.prefix(200)))
        #expect(throws: HalfsizeError.self) { try reader.finish() }
    }

    @Test func brokenPartHeadersAreRefused() {
        let reader = MultipartFormReader(boundary: "X")
        #expect(throws: HalfsizeError.self) { try reader.consume(Array("--X\r\nno colon here\r\n\r\nbody\r\n--X--\r\n".utf8)) }
    }

    @Test func theBoundaryComesFromTheContentType() {
        #expect(MultipartFormReader.boundary(contentType: "multipart/form-data; boundary=\"a b\"") == "a b")
        #expect(MultipartFormReader.boundary(contentType: "Multipart/Form-Data;charset=utf-8; BOUNDARY=xyz") == "xyz")
        #expect(MultipartFormReader.boundary(contentType: "multipart/form-data; boundary=") == nil)
        #expect(MultipartFormReader.boundary(contentType: "multipart/form-data; boundary=\(String(repeating: "x", count: 71))") == nil)
        #expect(MultipartFormReader.boundary(contentType: "text/csv; boundary=x") == nil)
    }
}
