import ProductCSV

/// Any bytes as an upload: validated, and when valid, written back out as the output CSV.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzCSV(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    if case .success(let sheet) = ProductSheet.validate(bytes: Array(UnsafeBufferPointer(start: data, count: size))) {
        _ = sheet.outputCSV { row in row.imageURLs.map { _ in "https://example.com/x.jpg" } }
    }
    return 0
}
