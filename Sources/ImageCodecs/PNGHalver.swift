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

/// An indexed image for PNG's palette colour type.
struct Palette {
    var rgb: [UInt8]
    /// Alpha per entry, trimmed after the last entry that is not opaque (PNG's tRNS).
    var alpha: [UInt8]
    var indices: [UInt8]

    /// A pixel as RGBA packed in a UInt32.
    static func rgba(_ pixels: PixelBuffer, _ pixel: Int) -> UInt32 {
        let base = pixel * pixels.channels, bytes = pixels.bytes
        let (r, g, b, a): (UInt8, UInt8, UInt8, UInt8)
        switch pixels.channels {
        case 1: (r, g, b, a) = (bytes[base], bytes[base], bytes[base], 255)
        case 2: (r, g, b, a) = (bytes[base], bytes[base], bytes[base], bytes[base + 1])
        case 3: (r, g, b, a) = (bytes[base], bytes[base + 1], bytes[base + 2], 255)
        default: (r, g, b, a) = (bytes[base], bytes[base + 1], bytes[base + 2], bytes[base + 3])
        }
        return UInt32(r) << 24 | UInt32(g) << 16 | UInt32(b) << 8 | UInt32(a)
    }

    /// The image's exact colours, when there are at most 256 of them. Entries that are not opaque
    /// come first, so the tRNS chunk stops where they do.
    static func exact(_ pixels: PixelBuffer) -> Palette? {
        var table: [UInt32: UInt8] = [:]
        var colours: [UInt32] = []
        var indices = [UInt8](repeating: 0, count: pixels.width * pixels.height)
        var previous: (key: UInt32, index: UInt8)?
        for pixel in 0..<(pixels.width * pixels.height) {
            let key = rgba(pixels, pixel)
            if let previous, previous.key == key {  // runs of one colour are common where this pays
                indices[pixel] = previous.index
                continue
            }
            let index: UInt8
            if let known = table[key] {
                index = known
            } else {
                guard colours.count < 256 else { return nil }  // a photo gives up within a few rows
                index = UInt8(colours.count)
                table[key] = index
                colours.append(key)
            }
            indices[pixel] = index
            previous = (key, index)
        }
        let order = colours.indices.sorted { (colours[$0] & 255 == 255 ? 1 : 0, $0) < (colours[$1] & 255 == 255 ? 1 : 0, $1) }
        var position = [UInt8](repeating: 0, count: colours.count)
        for (newIndex, oldIndex) in order.enumerated() { position[oldIndex] = UInt8(newIndex) }
        for pixel in indices.indices { indices[pixel] = position[Int(indices[pixel])] }
        let rgb = order.flatMap { [UInt8(colours[$0] >> 24), UInt8(colours[$0] >> 16 & 255), UInt8(colours[$0] >> 8 & 255)] }
        var alpha = order.map { UInt8(colours[$0] & 255) }
        while alpha.last == 255 { alpha.removeLast() }
        return Palette(rgb: rgb, alpha: alpha, indices: indices)
    }

    /// Every pixel mapped to the closest entry of the source's palette (RGBA distance), for the
    /// averaged edges that made more than 256 colours: the image stays small, as it came.
    static func nearest(_ pixels: PixelBuffer, entries: [UInt8]) -> Palette? {
        let count = entries.count / 4
        guard count > 0 else { return nil }
        var cache: [UInt32: UInt8] = [:]
        var indices = [UInt8](repeating: 0, count: pixels.width * pixels.height)
        for pixel in 0..<(pixels.width * pixels.height) {
            let key = rgba(pixels, pixel)
            if let index = cache[key] {
                indices[pixel] = index
                continue
            }
            let components = [Int(key >> 24), Int(key >> 16 & 255), Int(key >> 8 & 255), Int(key & 255)]
            var best = 0, bestDistance = Int.max
            for entry in 0..<count {
                var distance = 0
                for channel in 0..<4 {
                    let difference = components[channel] - Int(entries[entry * 4 + channel])
                    distance += difference * difference
                }
                if distance < bestDistance { (best, bestDistance) = (entry, distance) }
            }
            cache[key] = UInt8(best)
            indices[pixel] = UInt8(best)
        }
        var rgb: [UInt8] = [], alpha: [UInt8] = []
        for entry in 0..<count {
            rgb += entries[entry * 4..<entry * 4 + 3]
            alpha.append(entries[entry * 4 + 3])
        }
        while alpha.last == 255 { alpha.removeLast() }
        return Palette(rgb: rgb, alpha: alpha, indices: indices)
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
}

/// The 2×2 average. With alpha, colours are weighted by alpha so transparent pixels do not
/// bleed their (invisible) colour into the edges; a transparent result carries no colour.
enum BoxFilter {
    /// Halves an image whose rows `readRows(buffer, count)` delivers two at a time (one at an
    /// odd bottom edge), so only the halved image and one pair of rows are ever in memory.
    static func halve<Failure: Error>(width: Int, height: Int, channels: Int,
                                      readRows: (UnsafeMutablePointer<UInt8>, Int) throws(Failure) -> Void) throws(Failure) -> PixelBuffer {
        let outWidth = Halver.halvedLength(width), outHeight = Halver.halvedLength(height)
        let stride = width * channels
        var output = [UInt8](repeating: 0, count: outWidth * outHeight * channels)
        let pair = UnsafeMutablePointer<UInt8>.allocate(capacity: stride * 2)
        defer { pair.deallocate() }
        for outY in 0..<outHeight {
            let count = min(2, height - outY * 2)
            try readRows(pair, count)
            // At an odd edge the last row (and column) is read twice: the average of the pixels there are.
            if count == 1 { (pair + stride).update(from: pair, count: stride) }
            output.withUnsafeMutableBufferPointer { result in
                halveRowPair(top: pair, bottom: pair + stride, width: width, channels: channels,
                             into: result.baseAddress! + outY * outWidth * channels)
            }
        }
        return PixelBuffer(width: outWidth, height: outHeight, channels: channels, bytes: output)
    }

    /// Halves a whole image already in memory.
    static func halve(_ source: PixelBuffer) -> PixelBuffer {
        let stride = source.width * source.channels
        var nextRow = 0
        return source.bytes.withUnsafeBufferPointer { bytes in
            halve(width: source.width, height: source.height, channels: source.channels) { rows, count in
                rows.update(from: bytes.baseAddress! + nextRow * stride, count: count * stride)
                nextRow += count
            }
        }
    }

    private static func halveRowPair(top: UnsafePointer<UInt8>, bottom: UnsafePointer<UInt8>, width: Int, channels: Int,
                                     into result: UnsafeMutablePointer<UInt8>) {
        let hasAlpha = channels == 2 || channels == 4
        let colourChannels = hasAlpha ? channels - 1 : channels
        for outX in 0..<Halver.halvedLength(width) {
            let x0 = outX * 2, x1 = min(x0 + 1, width - 1)
            let p00 = top + x0 * channels, p01 = top + x1 * channels
            let p10 = bottom + x0 * channels, p11 = bottom + x1 * channels
            let target = result + outX * channels
            if hasAlpha {
                let a00 = Int(p00[colourChannels]), a01 = Int(p01[colourChannels])
                let a10 = Int(p10[colourChannels]), a11 = Int(p11[colourChannels])
                let alphaSum = a00 + a01 + a10 + a11
                let alpha = (alphaSum + 2) / 4
                target[colourChannels] = UInt8(alpha)
                for channel in 0..<colourChannels {
                    if alpha == 0 {  // invisible: no colour, which also compresses best
                        target[channel] = 0
                    } else {
                        let sum = Int(p00[channel]) * a00 + Int(p01[channel]) * a01 + Int(p10[channel]) * a10 + Int(p11[channel]) * a11
                        target[channel] = UInt8((sum + alphaSum / 2) / alphaSum)
                    }
                }
            } else {
                for channel in 0..<channels {
                    let sum = Int(p00[channel]) + Int(p01[channel]) + Int(p10[channel]) + Int(p11[channel])
                    target[channel] = UInt8((sum + 2) / 4)
                }
            }
        }
    }
}
