import CHalfsizeShims
import CPNG
import HalfsizeCore

/// A PNG whose header has been read. Only `PNGDecoder.with` makes one, and it must not outlive
/// that call: libpng reads the input bytes in place.
final class PNGDecoder: CodecDecoder {
    private let handle: OpaquePointer
    private var info: hs_png_info { hs_png_decoder_info(handle).pointee }

    init(handle: OpaquePointer) { self.handle = handle }
    deinit { hs_png_decoder_close(handle) }

    /// Opens `input` and runs `body` with its decoder while the input's storage is pinned.
    static func with<Result>(_ input: [UInt8], maximumPixels: Int,
                             _ body: (PNGDecoder) throws(HalfsizeError) -> Result) throws(HalfsizeError) -> Result {
        try open(input, format: "PNG", { buffer, handle in
            hs_png_decoder_open(buffer.baseAddress, buffer.count, UInt64(maximumPixels), &handle)
        }, body)
    }

    var width: Int { Int(info.width) }
    var height: Int { Int(info.height) }
    /// 8-bit channels: 1 grey, 2 grey+alpha, 3 RGB, 4 RGBA.
    var channels: Int { Int(info.channels) }
    var interlaced: Bool { info.interlaced != 0 }
    var sourceColorType: Int32 { info.source_color_type }
    /// A palette source's entries, RGBA.
    var sourcePalette: [UInt8] {
        var info = self.info
        let count = Int(info.palette_size) * 4
        return withUnsafeBytes(of: &info.palette) { Array($0.prefix(count)) }
    }
    var iccProfile: [UInt8] {
        let info = self.info
        guard let icc = info.icc else { return [] }
        return Array(UnsafeBufferPointer(start: icc, count: Int(info.icc_length)))
    }
    var iccName: String {
        var info = self.info
        return CodecStatus.message(&info.icc_name)
    }
    /// The first decoder warning and how many there were (so far).
    var warning: (text: String?, count: Int) {
        var info = self.info
        let count = Int(info.warnings)
        return (count > 0 ? CodecStatus.message(&info.message) : nil, count)
    }

    /// Reads the next `count` rows of a non-interlaced image into `rows`.
    func readRows(into rows: UnsafeMutablePointer<UInt8>, count: Int) throws(HalfsizeError) {
        try check(hs_png_decoder_read_rows(handle, rows, Int32(count)))
    }

    /// Reads the whole image, interlaced or not.
    func readImage() throws(HalfsizeError) -> PixelBuffer {
        try readImage(width: width, height: height, channels: channels) { hs_png_decoder_read_image(handle, $0) }
    }

    func check(_ status: Int32) throws(HalfsizeError) {
        var info = self.info
        try CodecStatus.check(status, format: "PNG", message: CodecStatus.message(&info.message))
    }
}

/// PNG: every colour type and depth is read as 8-bit grey, grey+alpha, RGB or RGBA (16-bit
/// scaled to 8 with rounding), halved by a 2×2 average weighted by alpha, and written with the
/// iCCP profile kept. A palette image is written as a palette image when its result still has at
/// most 256 colours (or, failing that, mapped to its source palette).
enum PNGHalver {
    static func halve(_ input: [UInt8], options: HalvingOptions) throws(HalfsizeError) -> HalvedImage {
        try PNGDecoder.with(input, maximumPixels: options.maximumPixels) { decoder throws(HalfsizeError) in
            let halved: PixelBuffer
            if decoder.interlaced {
                halved = BoxFilter.halve(try decoder.readImage())
            } else {
                // Two rows at a time: the full-size image never exists in memory.
                halved = try BoxFilter.halve(width: decoder.width, height: decoder.height, channels: decoder.channels) {
                    (rows, count) throws(HalfsizeError) in try decoder.readRows(into: rows, count: count)
                }
            }
            let icc = decoder.iccProfile, iccName = decoder.iccName
            let encodingStarted = ContinuousClock.now
            let bytes: [UInt8]
            if let indexed = palette(for: halved, source: decoder, icc: icc) {
                bytes = try encode(indexed.indices, width: halved.width, height: halved.height, channels: 1, palette: indexed,
                                   level: options.pngCompressionLevel, icc: icc, iccName: iccName)
            } else {
                let reduced = LosslessReduction.reduce(halved, keepColour: ICCProfile.colorSpace(icc) == "RGB ")
                bytes = try encode(reduced.bytes, width: reduced.width, height: reduced.height, channels: reduced.channels,
                                   palette: nil, level: options.pngCompressionLevel, icc: icc, iccName: iccName)
            }
            let warning = decoder.warning
            return HalvedImage(bytes: bytes, format: .png, inputWidth: decoder.width, inputHeight: decoder.height,
                               outputWidth: halved.width, outputHeight: halved.height,
                               warning: warning.text, warningCount: warning.count,
                               encodeDuration: ContinuousClock.now - encodingStarted)
        }
    }

    /// The palette to write the halved image with, if any: a palette source keeps its type (its
    /// exact colours, else the nearest of its own palette); any other image with more than one
    /// byte a pixel and at most 256 colours becomes a palette image, losslessly. Grey stays grey,
    /// and so does grey+alpha with a grey ICC profile, which a palette image may not carry.
    static func palette(for halved: PixelBuffer, source decoder: PNGDecoder, icc: [UInt8]) -> Palette? {
        if decoder.sourceColorType == PNG_COLOR_TYPE_PALETTE {
            return Palette.exact(halved) ?? Palette.nearest(halved, entries: decoder.sourcePalette)
        }
        guard halved.channels > 1, icc.isEmpty || ICCProfile.colorSpace(icc) == "RGB " else { return nil }
        return Palette.exact(halved)
    }

    static func encode(_ pixels: [UInt8], width: Int, height: Int, channels: Int, palette: Palette?, level: Int,
                       icc: [UInt8], iccName: String) throws(HalfsizeError) -> [UInt8] {
        var output: UnsafeMutablePointer<UInt8>?
        var length = 0
        var message = [CChar](repeating: 0, count: 200)
        let colours = palette?.rgb ?? []
        let alphas = palette?.alpha ?? []
        let status = pixels.withUnsafeBufferPointer { source in
            colours.withUnsafeBufferPointer { rgb in
                alphas.withUnsafeBufferPointer { trns in
                    icc.withUnsafeBufferPointer { profile in
                        hs_png_encode(source.baseAddress, Int32(width), Int32(height), Int32(channels),
                                      palette == nil ? nil : rgb.baseAddress, Int32(colours.count / 3),
                                      trns.baseAddress, Int32(alphas.count), Int32(level),
                                      profile.baseAddress, UInt32(profile.count), iccName, &output, &length, &message)
                    }
                }
            }
        }
        defer { hs_free(output) }
        try CodecStatus.check(status, format: "PNG", message: CodecStatus.text(message), encoding: true)
        return Array(UnsafeBufferPointer(start: output, count: length))
    }
}

/// The colour-type reductions PNG optimisers make, both lossless: an alpha channel that is
/// opaque everywhere is dropped, and colour with red = green = blue everywhere becomes grey
/// (unless an RGB ICC profile is kept, which a grey image may not carry).
enum LosslessReduction {
    static func reduce(_ image: PixelBuffer, keepColour: Bool) -> PixelBuffer {
        let channels = image.channels
        let hasAlpha = channels == 2 || channels == 4, hasColour = channels >= 3
        var opaque = hasAlpha, grey = hasColour && !keepColour
        image.bytes.withUnsafeBufferPointer { bytes in
            var base = 0
            while base < bytes.count && (opaque || grey) {
                if opaque && bytes[base + channels - 1] != 255 { opaque = false }
                if grey && (bytes[base] != bytes[base + 1] || bytes[base] != bytes[base + 2]) { grey = false }
                base += channels
            }
        }
        guard opaque || grey else { return image }
        // Kept channels, as offsets into a source pixel.
        let kept = (grey ? [0] : Array(0..<(hasColour ? 3 : 1))) + (hasAlpha && !opaque ? [channels - 1] : [])
        var bytes = [UInt8](repeating: 0, count: image.width * image.height * kept.count)
        image.bytes.withUnsafeBufferPointer { source in
            bytes.withUnsafeMutableBufferPointer { target in
                for pixel in 0..<(image.width * image.height) {
                    for (slot, offset) in kept.enumerated() { target[pixel * kept.count + slot] = source[pixel * channels + offset] }
                }
            }
        }
        return PixelBuffer(width: image.width, height: image.height, channels: kept.count, bytes: bytes)
    }

    /// RGBA to RGB, for an image known to be opaque.
    static func dropAlpha(_ image: PixelBuffer) -> PixelBuffer {
        guard image.channels == 4 else { return image }
        var bytes = [UInt8](repeating: 0, count: image.width * image.height * 3)
        for pixel in 0..<(image.width * image.height) {
            bytes[pixel * 3] = image.bytes[pixel * 4]
            bytes[pixel * 3 + 1] = image.bytes[pixel * 4 + 1]
            bytes[pixel * 3 + 2] = image.bytes[pixel * 4 + 2]
        }
        return PixelBuffer(width: image.width, height: image.height, channels: 3, bytes: bytes)
    }
}
