import CHalfsizeShims
import CPNG
import HalfsizeCore

/// PNG: every colour type and depth is read as 8-bit grey, grey+alpha, RGB or RGBA (16-bit
/// scaled to 8 with rounding), halved by a 2×2 average weighted by alpha, and written with the
/// iCCP profile kept. A palette image is written as a palette image when its result still has at
/// most 256 colours.
enum PNGHalver {
    static func halve(_ input: [UInt8], options: HalvingOptions) throws(HalfsizeError) -> HalvedImage {
        var decoded = hs_png_image()
        let status = input.withUnsafeBufferPointer { buffer in
            hs_png_decode(buffer.baseAddress, buffer.count, UInt64(options.maximumPixels), &decoded)
        }
        defer { hs_png_image_free(&decoded) }
        let message = CodecStatus.message(&decoded.message)
        try CodecStatus.check(status, format: "PNG", message: message)

        let width = Int(decoded.width), height = Int(decoded.height), channels = Int(decoded.channels)
        let source = PixelBuffer(width: width, height: height, channels: channels,
                                 bytes: Array(UnsafeBufferPointer(start: decoded.pixels, count: width * height * channels)))
        let halved = BoxFilter.halve(source)
        let icc = decoded.icc.map { Array(UnsafeBufferPointer(start: $0, count: Int(decoded.icc_length))) } ?? []
        let iccName = CodecStatus.message(&decoded.icc_name)

        var encoded: [UInt8]? = nil
        if decoded.source_color_type == PNG_COLOR_TYPE_PALETTE, let indexed = Palette.index(halved) {
            encoded = try encode(indexed.indices, width: halved.width, height: halved.height, channels: 1, palette: indexed,
                                 level: options.pngCompressionLevel, icc: icc, iccName: iccName)
        }
        let bytes: [UInt8]
        if let encoded {
            bytes = encoded
        } else {
            bytes = try encode(halved.bytes, width: halved.width, height: halved.height, channels: halved.channels,
                               palette: nil, level: options.pngCompressionLevel, icc: icc, iccName: iccName)
        }
        return HalvedImage(bytes: bytes, format: .png, inputWidth: width, inputHeight: height,
                           outputWidth: halved.width, outputHeight: halved.height,
                           warning: decoded.warnings > 0 ? message : nil, warningCount: Int(decoded.warnings))
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
        try CodecStatus.check(status, format: "PNG", message: CodecStatus.text(message))
        return Array(UnsafeBufferPointer(start: output, count: length))
    }
}

/// The exact colours of an image, when there are at most 256 of them.
struct Palette {
    var rgb: [UInt8]
    /// Alpha per entry, trimmed after the last entry that is not opaque (PNG's tRNS).
    var alpha: [UInt8]
    var indices: [UInt8]

    static func index(_ pixels: PixelBuffer) -> Palette? {
        var table: [UInt32: UInt8] = [:]
        var rgb: [UInt8] = [], alpha: [UInt8] = []
        var indices = [UInt8](repeating: 0, count: pixels.width * pixels.height)
        let channels = pixels.channels
        for pixel in 0..<(pixels.width * pixels.height) {
            let base = pixel * channels
            let (r, g, b, a): (UInt8, UInt8, UInt8, UInt8)
            switch channels {
            case 1: (r, g, b, a) = (pixels.bytes[base], pixels.bytes[base], pixels.bytes[base], 255)
            case 2: (r, g, b, a) = (pixels.bytes[base], pixels.bytes[base], pixels.bytes[base], pixels.bytes[base + 1])
            case 3: (r, g, b, a) = (pixels.bytes[base], pixels.bytes[base + 1], pixels.bytes[base + 2], 255)
            default: (r, g, b, a) = (pixels.bytes[base], pixels.bytes[base + 1], pixels.bytes[base + 2], pixels.bytes[base + 3])
            }
            let key = UInt32(r) << 24 | UInt32(g) << 16 | UInt32(b) << 8 | UInt32(a)
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
}

/// The 2×2 average. With alpha, colours are weighted by alpha so transparent pixels do not
/// bleed their (invisible) colour into the edges; a fully transparent block stays transparent.
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
                            result[target + colourChannels] = UInt8((alphaSum + 2) / 4)
                            for channel in 0..<colourChannels {
                                if alphaSum == 0 {
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
