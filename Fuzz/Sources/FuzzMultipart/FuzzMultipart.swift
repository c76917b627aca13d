import ProductCSV

/// The first line is the Content-Type, the rest the body, fed to the streaming reader in two
/// chunks split where the body's first byte says (a boundary may straddle chunks).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzMultipart(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let newline = bytes.firstIndex(of: UInt8(ascii: "\n")) ?? bytes.endIndex
    let contentType = String(decoding: bytes[..<newline], as: UTF8.self)
    let body = Array(bytes[min(newline + 1, bytes.endIndex)...])
    let split = body.isEmpty ? 0 : Int(body[0]) % (body.count + 1)
    for boundary in [MultipartFormReader.boundary(contentType: contentType), "X"].compactMap({ $0 }) {
        let reader = MultipartFormReader(boundary: boundary)
        _ = try? reader.consume(Array(body[..<split]))
        _ = try? reader.consume(Array(body[split...]))
        _ = try? reader.finish()
    }
    return 0
}
