import CHalfsizeShims
import HalfsizeCore

/// A TIFF's first page, opened by libtiff. Only `with` makes one; it reads the input in place.
final class TIFFDecoder: CodecDecoder {
    private let handle: OpaquePointer
    private var info: hs_tiff_info { hs_tiff_file_info(handle).pointee }

    init(handle: OpaquePointer) { self.handle = handle }
    deinit { hs_tiff_close(handle) }

    static func with<Result>(_ input: [UInt8], maximumPixels: Int,
                             _ body: (TIFFDecoder) throws(HalfsizeError) -> Result) throws(HalfsizeError) -> Result {
        try open(input, format: "TIFF", { buffer, handle in
            hs_tiff_open(buffer.baseAddress, buffer.count, UInt64(maximumPixels), &handle)
        }, body)
    }

    var width: Int { Int(info.width) }
    var height: Int { Int(info.height) }
    var orientation: Orientation { Orientation(rawValue: Int(info.orientation)) ?? .up }
    var icc: [UInt8] { Array(UnsafeBufferPointer(start: info.icc, count: Int(info.icc_length))) }

    /// The page as stored (not yet turned upright), RGBA.
    func readPixels() throws(HalfsizeError) -> PixelBuffer {
        try readImage(width: width, height: height, channels: 4) { hs_tiff_read_rgba(handle, $0) }
    }

    func check(_ status: Int32) throws(HalfsizeError) {
        var info = self.info
        try CodecStatus.check(status, format: "TIFF", message: CodecStatus.message(&info.message))
    }
}

/// TIFF (libtiff's RGBA reader: strips and tiles; none, LZW, deflate, PackBits and JPEG
/// compression; 1–16 bits; grey, RGB, palette, CMYK, YCbCr; alpha), the first page of a multi-page
/// file. The orientation tag is applied, the page halved with the alpha-weighted average and
/// written as JPEG or PNG (`ConvertedOutput`), the ICC profile kept.
enum TIFFHalver {
    static func halve(_ input: [UInt8], options: HalvingOptions) throws(HalfsizeError) -> HalvedImage {
        try TIFFDecoder.with(input, maximumPixels: options.maximumPixels) { decoder throws(HalfsizeError) in
            let upright = try decoder.readPixels().oriented(decoder.orientation)
            let halved = BoxFilter.halve(upright)
            let started = ContinuousClock.now
            let output = try ConvertedOutput.encode(halved, options: options, icc: decoder.icc)
            return HalvedImage(bytes: output.bytes, format: output.format, inputWidth: upright.width, inputHeight: upright.height,
                               outputWidth: halved.width, outputHeight: halved.height, warning: nil, warningCount: 0,
                               encodeDuration: ContinuousClock.now - started)
        }
    }
}
