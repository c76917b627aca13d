import HalfsizeCore
import ImageCodecs

/// Any bytes as a downloaded image: sniffed, decoded and halved, with a 4 MP limit so the fuzzer
/// explores headers and scans rather than big allocations.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzHalve(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    _ = ImageFormat.detect(bytes)
    _ = try? Halver.halve(bytes, options: HalvingOptions(maximumPixels: 4_000_000, maximumScans: 50))
    return 0
}
