import CHalfsizeShims
import HalfsizeCore

/// A TIFF's first page, opened by libtiff. Only `with` makes one; it reads the input in place.
final class TIFFDecoder {
    private let handle: OpaquePointer?
    let info: hs_tiff_info
    var width: Int { Int(info.width) }
    var height: Int { Int(info.height) }
    var orientation: Orientation { Orientation(rawValue: Int(info.orientation)) ?? .up }
    var icc: [UInt8] { Array(UnsafeBufferPointer(start: info.icc, count: Int(info.icc_length))) }

    private init(handle: OpaquePointer?, info: hs_tiff_info) {
        self.handle = handle
        self.info = info
    }

    deinit { hs_tiff_close(handle) }

    static func with<Result>(_ input: [UInt8], maximumPixels: Int,
                             _ body: (TIFFDecoder) throws(HalfsizeError) -> Result) throws(HalfsizeError) -> Result {
        let outcome = input.withUnsafeBufferPointer { buffer -> Swift.Result<Result, HalfsizeError> in
            var handle: OpaquePointer?
            var info = hs_tiff_info()
            let status = hs_tiff_open(buffer.baseAddress, buffer.count, UInt64(maximumPixels), &handle, &info)
            let decoder = TIFFDecoder(handle: handle, info: info)
            return Swift.Result { () throws(HalfsizeError) -> Result in
                var info = info
                try CodecStatus.check(status, format: "TIFF", message: CodecStatus.message(&info.message))
                return try body(decoder)
            }
        }
        return try outcome.get()
    }

    /// The page as stored (not yet turned upright), RGBA.
    func readPixels() throws(HalfsizeError) -> PixelBuffer {
        var message = [CChar](repeating: 0, count: 200)
        let count = width * height * 4
        var status: Int32 = 0
        let bytes = [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            status = hs_tiff_read_rgba(handle, buffer.baseAddress, &message)
            initialized = count  // thrown away below on failure
        }
        try CodecStatus.check(status, format: "TIFF", message: CodecStatus.text(message))
        return PixelBuffer(width: width, height: height, channels: 4, bytes: bytes)
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
