import CHalfsizeShims
import CJPEG
import HalfsizeCore

/// A JPEG whose header has been read and whose decompression has started (at 1/scale size, in
/// the DCT domain). Only `JPEGDecoder.with` makes one, and it must not outlive that call: libjpeg
/// reads the input bytes in place.
final class JPEGDecoder: CodecDecoder {
    private let handle: OpaquePointer
    private var info: hs_jpeg_info { hs_jpeg_decoder_info(handle).pointee }

    init(handle: OpaquePointer) { self.handle = handle }
    deinit { hs_jpeg_decoder_close(handle) }

    /// Opens `input` and runs `body` with its decoder while the input's storage is pinned.
    static func with<Result>(_ input: [UInt8], scaleDenominator: Int, maximumPixels: Int, maximumScans: Int,
                             _ body: (JPEGDecoder) throws(HalfsizeError) -> Result) throws(HalfsizeError) -> Result {
        try open(input, format: "JPEG", { buffer, handle in
            hs_jpeg_decoder_open(buffer.baseAddress, buffer.count, Int32(scaleDenominator), UInt64(maximumPixels),
                                 Int32(maximumScans), &handle)
        }, body)
    }

    var width: Int { Int(info.width) }
    var height: Int { Int(info.height) }
    /// 1 (grey) or 3 (RGB): CMYK and YCCK arrive converted.
    var channels: Int { Int(info.components) }
    var sourceWidth: Int { Int(info.source_width) }
    var sourceHeight: Int { Int(info.source_height) }
    var orientation: Orientation {
        let info = self.info
        guard let exif = info.exif else { return .up }
        return Orientation.fromEXIF(Array(UnsafeBufferPointer(start: exif, count: Int(info.exif_length))))
    }
    var iccProfile: [UInt8] {
        let info = self.info
        guard let icc = info.icc else { return [] }
        return Array(UnsafeBufferPointer(start: icc, count: Int(info.icc_length)))
    }
    /// The first decoder warning and how many there were (so far).
    var warning: (text: String?, count: Int) {
        var info = self.info
        let count = Int(info.warnings)
        return (count > 0 ? CodecStatus.message(&info.message) : nil, count)
    }

    /// Decodes every row, as stored.
    func readPixels() throws(HalfsizeError) -> PixelBuffer {
        try readImage(width: width, height: height, channels: channels) { hs_jpeg_decoder_read(handle, $0) }
    }

    /// Decodes and re-encodes row by row: for upright images no whole-image buffer exists.
    func transcode(quality: Int, optimizeHuffman: Bool, icc: [UInt8]) throws(HalfsizeError) -> (bytes: [UInt8], encoding: Duration) {
        var output: UnsafeMutablePointer<UInt8>?
        var length: UInt = 0
        var encoding: UInt64 = 0
        let status = icc.withUnsafeBufferPointer { profile in
            hs_jpeg_decoder_transcode(handle, Int32(quality), optimizeHuffman ? 1 : 0, profile.baseAddress, UInt32(profile.count),
                                      &output, &length, &encoding)
        }
        defer { hs_free(output) }
        try check(status)
        return (Array(UnsafeBufferPointer(start: output, count: Int(length))), .nanoseconds(Int64(encoding)))
    }

    func check(_ status: Int32) throws(HalfsizeError) {
        var info = self.info
        try CodecStatus.check(status, format: "JPEG", message: CodecStatus.message(&info.message))
    }
}

/// JPEG: libjpeg decodes at half size in the DCT domain (no full-size pixels ever exist), CMYK
/// becomes RGB, the EXIF orientation is applied, and the result is encoded with the ICC profile
/// kept and every other marker (EXIF, GPS, XMP, comments) dropped.
enum JPEGHalver {
    static func halve(_ input: [UInt8], options: HalvingOptions) throws(HalfsizeError) -> HalvedImage {
        try JPEGDecoder.with(input, scaleDenominator: 2, maximumPixels: options.maximumPixels,
                             maximumScans: options.maximumScans) { decoder throws(HalfsizeError) in
            let orientation = decoder.orientation
            var icc = decoder.iccProfile
            let wanted = decoder.channels == 1 ? "GRAY" : "RGB "
            if !icc.isEmpty, ICCProfile.colorSpace(icc) != wanted { icc = [] }  // a CMYK profile no longer describes the pixels

            let bytes: [UInt8], encoding: Duration
            if orientation == .up {
                (bytes, encoding) = try decoder.transcode(quality: options.quality, optimizeHuffman: options.optimizeHuffman, icc: icc)
            } else {
                let turned = try decoder.readPixels().oriented(orientation)
                let started = ContinuousClock.now
                bytes = try encode(turned, quality: options.quality, optimizeHuffman: options.optimizeHuffman, icc: icc)
                encoding = ContinuousClock.now - started
            }
            let (outputWidth, outputHeight) = orientation.swapsDimensions ? (decoder.height, decoder.width) : (decoder.width, decoder.height)
            let (inputWidth, inputHeight) = orientation.swapsDimensions
                ? (decoder.sourceHeight, decoder.sourceWidth) : (decoder.sourceWidth, decoder.sourceHeight)
            let warning = decoder.warning
            return HalvedImage(bytes: bytes, format: .jpeg, inputWidth: inputWidth, inputHeight: inputHeight,
                               outputWidth: outputWidth, outputHeight: outputHeight,
                               warning: warning.text, warningCount: warning.count, encodeDuration: encoding)
        }
    }

    static func encode(_ pixels: PixelBuffer, quality: Int, optimizeHuffman: Bool, icc: [UInt8]) throws(HalfsizeError) -> [UInt8] {
        var output: UnsafeMutablePointer<UInt8>?
        var length: UInt = 0
        var message = [CChar](repeating: 0, count: 200)
        let status = pixels.bytes.withUnsafeBufferPointer { source in
            icc.withUnsafeBufferPointer { profile in
                hs_jpeg_encode(source.baseAddress, Int32(pixels.width), Int32(pixels.height), Int32(pixels.channels),
                               Int32(quality), optimizeHuffman ? 1 : 0, profile.baseAddress, UInt32(profile.count), &output,
                               &length, &message)
            }
        }
        defer { hs_free(output) }
        try CodecStatus.check(status, format: "JPEG", message: CodecStatus.text(message), encoding: true)
        return Array(UnsafeBufferPointer(start: output, count: Int(length)))
    }
}
