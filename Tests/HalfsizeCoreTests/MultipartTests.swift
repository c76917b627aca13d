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

    /// Found by the contract test: multipart-kit traps on a header-name byte from 0x80 up (the
    /// ingest process died). The reader refuses it first, at any chunk size; non-ASCII in header
    /// values and part bodies stays fine.
    @Test(arguments: [1, 3, 64, 10_000])
    func aNonASCIIHeaderNameIsRefusedNotACrash(chunkSize: Int) throws {
        let names = ["\u{E9}tag", "Content-Type\u{2603}", "x-\u{80}"]
        for name in names {
            for placement in ["--B0undary\r\n\(name): 1\r\n\r\nbody\r\n--B0undary--\r\n",
                              "--B0undary\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nx\r\n--B0undary\r\n\(name): 1\r\n\r\ny\r\n--B0undary--\r\n"] {
                let bytes = Array(placement.utf8)
                let reader = MultipartFormReader(boundary: "B0undary")
                let error = #expect(throws: HalfsizeError.self, "\(name)") {
                    for start in stride(from: 0, to: bytes.count, by: chunkSize) {
                        try reader.consume(Array(bytes[start..<min(start + chunkSize, bytes.count)]))
                    }
                    _ = try reader.finish()
                }
                #expect(error?.code == .invalidUpload)
            }
        }
        let fine = Array("--B0undary\r\nContent-Disposition: form-data; name=\"file\"; filename=\"caf\u{E9}.csv\"\r\n\r\n1,Caf\u{E9} \u{2603}\r\n--B0undary--\r\n".utf8)
        let reader = MultipartFormReader(boundary: "B0undary")
        for start in stride(from: 0, to: fine.count, by: chunkSize) {
            try reader.consume(Array(fine[start..<min(start + chunkSize, fine.count)]))
        }
        let parts = try reader.finish()
        #expect(parts.first?.filename == "caf\u{E9}.csv")
        #expect(String(decoding: parts.first?.body ?? [], as: UTF8.self) == "1,Caf\u{E9} \u{2603}")
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
