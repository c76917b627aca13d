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
