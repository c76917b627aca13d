import CHalfsizeShims
import CPNG
import HalfsizeCore

/// PNG: every colour type and depth is read as 8-bit grey, grey+alpha, RGB or RGBA (16-bit
/// scaled to 8 with rounding), halved by a 2×2 average weighted by alpha, and written with the
/// iCCP profile kept. A palette image is written as a palette image when its result still has at
/// most 256 colours.
/// A decoded PNG: 8-bit pixels and what the encoder needs to keep.
struct DecodedPNG {
    var pixels: PixelBuffer
    var sourceColorType: Int32
    /// A palette source's entries, RGBA.
    var sourcePalette: [UInt8]
    var icc: [UInt8]
    var iccName: String
    var warning: String?
    var warningCount: Int

    init(_ input: [UInt8], maximumPixels: Int) throws(HalfsizeError) {
        var decoded = hs_png_image()
        let status = input.withUnsafeBufferPointer { buffer in
            hs_png_decode(buffer.baseAddress, buffer.count, UInt64(maximumPixels), &decoded)
        }
        defer { hs_png_image_free(&decoded) }
        let message = CodecStatus.message(&decoded.message)
        try CodecStatus.check(status, format: "PNG", message: message)
        let width = Int(decoded.width), height = Int(decoded.height), channels = Int(decoded.channels)
        pixels = PixelBuffer(width: width, height: height, channels: channels,
                             bytes: Array(UnsafeBufferPointer(start: decoded.pixels, count: width * height * channels)))
        sourceColorType = decoded.source_color_type
        let paletteSize = Int(decoded.palette_size)
        sourcePalette = withUnsafeBytes(of: decoded.palette) { Array($0.prefix(paletteSize * 4)) }
        icc = decoded.icc.map { Array(UnsafeBufferPointer(start: $0, count: Int(decoded.icc_length))) } ?? []
        iccName = CodecStatus.message(&decoded.icc_name)
        warningCount = Int(decoded.warnings)
        warning = warningCount > 0 ? message : nil
    }
}

enum PNGHalver {
    static func halve(_ input: [UInt8], options: HalvingOptions) throws(HalfsizeError) -> HalvedImage {
        let decoded = try DecodedPNG(input, maximumPixels: options.maximumPixels)
        let source = decoded.pixels
        let width = source.width, height = source.height
        let icc = decoded.icc, iccName = decoded.iccName
        let halved = BoxFilter.halve(source)

        let bytes: [UInt8]
        if decoded.sourceColorType == PNG_COLOR_TYPE_PALETTE,
           let indexed = Palette.exact(halved) ?? Palette.nearest(halved, entries: decoded.sourcePalette) {
            bytes = try encode(indexed.indices, width: halved.width, height: halved.height, channels: 1, palette: indexed,
                               level: options.pngCompressionLevel, icc: icc, iccName: iccName)
        } else {
            bytes = try encode(halved.bytes, width: halved.width, height: halved.height, channels: halved.channels,
                               palette: nil, level: options.pngCompressionLevel, icc: icc, iccName: iccName)
        }
        return HalvedImage(bytes: bytes, format: .png, inputWidth: width, inputHeight: height,
                           outputWidth: halved.width, outputHeight: halved.height,
                           warning: decoded.warning, warningCount: decoded.warningCount)
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

    /// The image's exact colours, when there are at most 256 of them.
    static func exact(_ pixels: PixelBuffer) -> Palette? {
        var table: [UInt32: UInt8] = [:]
        var rgb: [UInt8] = [], alpha: [UInt8] = []
        var indices = [UInt8](repeating: 0, count: pixels.width * pixels.height)
        for pixel in 0..<(pixels.width * pixels.height) {
            let key = rgba(pixels, pixel)
            let (r, g, b, a) = (UInt8(key >> 24), UInt8(key >> 16 & 255), UInt8(key >> 8 & 255), UInt8(key & 255))
            if let index = table[key] {
                indices[pixel] = index
            } else {
                guard table.count < 256 else { return nil }
                let index = UInt8(table.count)
                table[key] = index
                rgb += [r, g, b]
                alpha.append(a)
                indices[pixel] = index
            }
        }
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

/// The 2×2 average. With alpha, colours are weighted by alpha so transparent pixels do not
/// bleed their (invisible) colour into the edges; a transparent result carries no colour.
enum BoxFilter {
    static func halve(_ source: PixelBuffer) -> PixelBuffer {
        let width = source.width, height = source.height, channels = source.channels
        let outWidth = Halver.halvedLength(width), outHeight = Halver.halvedLength(height)
        var output = [UInt8](repeating: 0, count: outWidth * outHeight * channels)
        let hasAlpha = channels == 2 || channels == 4
        let colourChannels = hasAlpha ? channels - 1 : channels
        source.bytes.withUnsafeBufferPointer { input in
            output.withUnsafeMutableBufferPointer { result in
                for outY in 0..<outHeight {
                    // At an odd edge the last pixel is read twice, which averages just the pixels there are.
                    let y0 = outY * 2, y1 = min(y0 + 1, height - 1)
                    for outX in 0..<outWidth {
                        let x0 = outX * 2, x1 = min(x0 + 1, width - 1)
                        let p00 = (y0 * width + x0) * channels, p01 = (y0 * width + x1) * channels
                        let p10 = (y1 * width + x0) * channels, p11 = (y1 * width + x1) * channels
                        let target = (outY * outWidth + outX) * channels
                        if hasAlpha {
                            let a00 = Int(input[p00 + colourChannels]), a01 = Int(input[p01 + colourChannels])
                            let a10 = Int(input[p10 + colourChannels]), a11 = Int(input[p11 + colourChannels])
                            let alphaSum = a00 + a01 + a10 + a11
                            let alpha = (alphaSum + 2) / 4
                            result[target + colourChannels] = UInt8(alpha)
                            for channel in 0..<colourChannels {
                                if alpha == 0 {  // invisible: no colour, which also compresses best
                                    result[target + channel] = 0
                                } else {
                                    let sum = Int(input[p00 + channel]) * a00 + Int(input[p01 + channel]) * a01
                                        + Int(input[p10 + channel]) * a10 + Int(input[p11 + channel]) * a11
                                    result[target + channel] = UInt8((sum + alphaSum / 2) / alphaSum)
                                }
                            }
                        } else {
                            for channel in 0..<channels {
                                let sum = Int(input[p00 + channel]) + Int(input[p01 + channel]) + Int(input[p10 + channel]) + Int(input[p11 + channel])
                                result[target + channel] = UInt8((sum + 2) / 4)
                            }
                        }
                    }
                }
            }
        }
        return PixelBuffer(width: outWidth, height: outHeight, channels: channels, bytes: output)
    }
}
