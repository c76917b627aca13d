import HalfsizeCore

/// The output of formats that are not written back (TIFF): JPEG when the halved image is opaque
/// and photographic, PNG when it has transparency or few colours (at most 256, or at most 16 grey
/// levels), where JPEG would blur edges that PNG keeps exactly and smaller.
enum ConvertedOutput {
    static func encode(_ image: PixelBuffer, options: HalvingOptions, icc: [UInt8]) throws(HalfsizeError) -> (bytes: [UInt8], format: ImageFormat) {
        let rgbProfile = icc.isEmpty || ICCProfile.colorSpace(icc) == "RGB "
        let reduced = LosslessReduction.reduce(image, keepColour: ICCProfile.colorSpace(icc) == "RGB ")
        let hasAlpha = reduced.channels == 2 || reduced.channels == 4
        let palette = reduced.channels > 1 && rgbProfile ? Palette.exact(reduced) : nil
        if hasAlpha || palette != nil || (reduced.channels == 1 && Set(reduced.bytes).count <= 16) {
            let bytes = try PNGHalver.encode(palette?.indices ?? reduced.bytes, width: reduced.width, height: reduced.height,
                                             channels: palette == nil ? reduced.channels : 1, palette: palette,
                                             level: options.pngCompressionLevel, icc: icc, iccName: "ICC profile")
            return (bytes, .png)
        }
        // A CMYK profile does not describe the RGB written.
        let jpegProfile = ICCProfile.colorSpace(icc) == "CMYK" ? [] : icc
        return (try JPEGHalver.encode(reduced, quality: options.quality, optimizeHuffman: options.optimizeHuffman, icc: jpegProfile), .jpeg)
    }
}

/// `HALFSIZE_OUTPUT_FORMAT=jpeg|png|webp` for an input of another format: the image is decoded
/// whole (the first frame of an animation), turned upright, halved with the alpha-weighted
/// average and written in the one format. JPEG has no transparency, so transparent pixels are
/// laid over white. The ICC profile is not carried across (the decoders used here do not return it).
enum ForcedOutput {
    static func halve(_ input: [UInt8], as format: ImageFormat, options: HalvingOptions) throws(HalfsizeError) -> HalvedImage {
        let upright = try ImageDecoder.decode(input, maximumPixels: options.maximumPixels).upright
        let halved = BoxFilter.halve(upright)
        let started = ContinuousClock.now
        let bytes: [UInt8]
        switch format {
        case .jpeg:
            bytes = try JPEGHalver.encode(overWhite(halved), quality: options.quality, optimizeHuffman: options.optimizeHuffman, icc: [])
        case .webp:
            bytes = try WebPHalver.encode(halved, lossless: false, quality: Float(options.quality), icc: [])
        default:
            let reduced = LosslessReduction.reduce(halved, keepColour: false)
            let palette = reduced.channels > 1 ? Palette.exact(reduced) : nil
            bytes = try PNGHalver.encode(palette?.indices ?? reduced.bytes, width: reduced.width, height: reduced.height,
                                         channels: palette == nil ? reduced.channels : 1, palette: palette,
                                         level: options.pngCompressionLevel, icc: [], iccName: "")
        }
        return HalvedImage(bytes: bytes, format: format, inputWidth: upright.width, inputHeight: upright.height,
                           outputWidth: halved.width, outputHeight: halved.height, warning: nil, warningCount: 0,
                           encodeDuration: ContinuousClock.now - started)
    }

    /// Grey stays grey; colour becomes RGB; alpha is composited over white.
    static func overWhite(_ image: PixelBuffer) -> PixelBuffer {
        let channels = image.channels
        guard channels == 2 || channels == 4 else { return image }
        let colour = channels - 1
        var bytes = [UInt8](repeating: 0, count: image.width * image.height * colour)
        for pixel in 0..<(image.width * image.height) {
            let alpha = Int(image.bytes[pixel * channels + colour])
            for channel in 0..<colour {
                let value = Int(image.bytes[pixel * channels + channel])
                bytes[pixel * colour + channel] = UInt8((value * alpha + 255 * (255 - alpha) + 127) / 255)
            }
        }
        return PixelBuffer(width: image.width, height: image.height, channels: colour, bytes: bytes)
    }
}
