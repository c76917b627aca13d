import CHalfsizeShims
import CJPEG
import HalfsizeCore

/// A decoded JPEG: grey or RGB pixels (CMYK already converted), as stored, plus what the
/// encoder and the orientation step need.
struct DecodedJPEG {
    var pixels: PixelBuffer
    var orientation: Orientation
    var icc: [UInt8]
    var sourceWidth: Int, sourceHeight: Int
    var warning: String?
    var warningCount: Int

    /// Decodes at 1/scaleDenominator size in the DCT domain.
    init(_ input: [UInt8], scaleDenominator: Int, maximumPixels: Int, maximumScans: Int) throws(HalfsizeError) {
        var decoded = hs_jpeg_image()
        let status = input.withUnsafeBufferPointer { buffer in
            hs_jpeg_decode(buffer.baseAddress, buffer.count, Int32(scaleDenominator), UInt64(maximumPixels), Int32(maximumScans), &decoded)
        }
        defer { hs_jpeg_image_free(&decoded) }
        let message = CodecStatus.message(&decoded.message)
        try CodecStatus.check(status, format: "JPEG", message: message)
        let width = Int(decoded.width), height = Int(decoded.height), components = Int(decoded.components)
        pixels = PixelBuffer(width: width, height: height, channels: components,
                             bytes: Array(UnsafeBufferPointer(start: decoded.pixels, count: width * height * components)))
        if decoded.color_space == Int32(JCS_CMYK.rawValue) {
            pixels = JPEGHalver.cmykToRGB(pixels, inverted: decoded.adobe_inverted_cmyk != 0)
        }
        let exif = decoded.exif.map { Array(UnsafeBufferPointer(start: $0, count: Int(decoded.exif_length))) } ?? []
        orientation = Orientation.fromEXIF(exif)
        icc = decoded.icc.map { Array(UnsafeBufferPointer(start: $0, count: Int(decoded.icc_length))) } ?? []
        sourceWidth = Int(decoded.source_width)
        sourceHeight = Int(decoded.source_height)
        warningCount = Int(decoded.warnings)
        warning = warningCount > 0 ? message : nil
    }
}

/// JPEG: libjpeg decodes at half size in the DCT domain (no full-size pixels ever exist), CMYK
/// becomes RGB, the EXIF orientation is applied, and the result is encoded with the ICC profile
/// kept and every other marker (EXIF, GPS, XMP, comments) dropped.
enum JPEGHalver {
    static func halve(_ input: [UInt8], options: HalvingOptions) throws(HalfsizeError) -> HalvedImage {
        let decoded = try DecodedJPEG(input, scaleDenominator: 2, maximumPixels: options.maximumPixels, maximumScans: options.maximumScans)
        let pixels = decoded.pixels.oriented(decoded.orientation)
        var icc = decoded.icc
        let wanted = pixels.channels == 1 ? "GRAY" : "RGB "
        if !icc.isEmpty, ICCProfile.colorSpace(icc) != wanted { icc = [] }  // a CMYK profile no longer describes the pixels

        let encoded = try encode(pixels, quality: options.quality, icc: icc)
        let (inputWidth, inputHeight) = decoded.orientation.swapsDimensions
            ? (decoded.sourceHeight, decoded.sourceWidth) : (decoded.sourceWidth, decoded.sourceHeight)
        return HalvedImage(bytes: encoded, format: .jpeg, inputWidth: inputWidth, inputHeight: inputHeight,
                           outputWidth: pixels.width, outputHeight: pixels.height,
                           warning: decoded.warning, warningCount: decoded.warningCount)
    }

    static func encode(_ pixels: PixelBuffer, quality: Int, icc: [UInt8]) throws(HalfsizeError) -> [UInt8] {
        var output: UnsafeMutablePointer<UInt8>?
        var length: UInt = 0
        var message = [CChar](repeating: 0, count: 200)
        let status = pixels.bytes.withUnsafeBufferPointer { source in
            icc.withUnsafeBufferPointer { profile in
                hs_jpeg_encode(source.baseAddress, Int32(pixels.width), Int32(pixels.height), Int32(pixels.channels),
                               Int32(quality), 0, profile.baseAddress, UInt32(profile.count), &output, &length, &message)
            }
        }
        defer { hs_free(output) }
        try CodecStatus.check(status, format: "JPEG", message: CodecStatus.text(message), encoding: true)
        return Array(UnsafeBufferPointer(start: output, count: Int(length)))
    }

    /// CMYK to RGB as R = (255 - C)(255 - K) / 255, …; Adobe files store the inks inverted.
    static func cmykToRGB(_ cmyk: PixelBuffer, inverted: Bool) -> PixelBuffer {
        let count = cmyk.width * cmyk.height
        var rgb = [UInt8](repeating: 0, count: count * 3)
        cmyk.bytes.withUnsafeBufferPointer { source in
            rgb.withUnsafeMutableBufferPointer { destination in
                for index in 0..<count {
                    let base = index * 4
                    var c = Int(source[base]), m = Int(source[base + 1]), y = Int(source[base + 2]), k = Int(source[base + 3])
                    if !inverted { (c, m, y, k) = (255 - c, 255 - m, 255 - y, 255 - k) }
                    // Now each value is 255 minus the ink: multiply the remaining light.
                    destination[index * 3] = UInt8((c * k + 127) / 255)
                    destination[index * 3 + 1] = UInt8((m * k + 127) / 255)
                    destination[index * 3 + 2] = UInt8((y * k + 127) / 255)
                }
            }
        }
        return PixelBuffer(width: cmyk.width, height: cmyk.height, channels: 3, bytes: rgb)
    }
}
