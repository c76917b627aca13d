import ProductCSV

/// The first line is the Content-Type, the rest the body.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzMultipart(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let newline = bytes.firstIndex(of: UInt8(ascii: "\n")) ?? bytes.endIndex
    let contentType = String(decoding: bytes[..<newline], as: UTF8.self)
    let body = Array(bytes[min(newline + 1, bytes.endIndex)...])
    if let boundary = MultipartForm.boundary(contentType: contentType) {
        _ = MultipartForm.parse(body, boundary: boundary)
    }
    _ = MultipartForm.parse(body, boundary: "X")
    return 0
}
