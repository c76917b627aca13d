import CHalfsizeShims
import HalfsizeCore

/// What a WebP's header and chunks say, read before any pixel is decoded.
struct WebPHeader {
    var width: Int, height: Int
    var hasAlpha: Bool, animated: Bool, lossless: Bool
    var frameCount: Int, loopCount: Int
    var background: UInt32
    var icc: [UInt8]
    var orientation: Orientation

    /// Refuses more than `maximumFrames` frames or `maximumPixels` pixels in all frames together.
    static func read(_ input: [UInt8], maximumPixels: Int, maximumFrames: Int) throws(HalfsizeError) -> WebPHeader {
        var info = hs_webp_info()
        let (status, icc, exif) = input.withUnsafeBufferPointer { buffer in
            let status = hs_webp_probe(buffer.baseAddress, buffer.count, UInt64(maximumPixels), Int32(clamping: maximumFrames), &info)
            // The chunks point into the input: copy them while it is pinned.
            return (status, Array(UnsafeBufferPointer(start: info.icc, count: info.icc_length)),
                    Array(UnsafeBufferPointer(start: info.exif, count: info.exif_length)))
        }
        try CodecStatus.check(status, format: "WebP", message: CodecStatus.message(&info.message))
        // Some writers keep JPEG's "Exif\0\0" before the TIFF structure.
        let tiff = exif.starts(with: Array("Exif\0\0".utf8)) ? Array(exif.dropFirst(6)) : exif
        return WebPHeader(width: Int(info.width), height: Int(info.height), hasAlpha: info.has_alpha != 0, animated: info.animated != 0,
                          lossless: info.lossless != 0, frameCount: Int(info.frame_count), loopCount: Int(info.loop_count),
                          background: info.background, icc: icc, orientation: Orientation.fromEXIF(tiff))
    }
}

/// WebP: stills (lossy or lossless, with or without alpha) and animations. The output stays WebP:
/// lossless stays lossless, lossy is written at the JPEG quality, every frame of an animation is
/// kept with its timing and loop count (the encoder recomputes each frame's rectangle, blending
/// and disposal for the halved canvases), the ICC profile is kept and the EXIF orientation applied
/// (EXIF itself is dropped, as for JPEG). An opaque upright still is halved by libwebp's own
/// area-averaging scaler while it decodes; anything else is decoded whole and box-filtered with
/// alpha weighting, like PNG.
enum WebPHalver {
    static func halve(_ input: [UInt8], options: HalvingOptions) throws(HalfsizeError) -> HalvedImage {
        let header = try WebPHeader.read(input, maximumPixels: options.maximumPixels, maximumFrames: options.maximumFrames)
        let quality = Float(options.quality)
        var encodeDuration = Duration.zero
        let halved: (bytes: [UInt8], width: Int, height: Int)
        if header.animated {
            halved = try halveAnimation(input, header, quality: quality, encodeDuration: &encodeDuration)
        } else {
            let pixels: PixelBuffer
            if !header.hasAlpha, header.orientation == .up {
                pixels = try decodeScaled(input, width: Halver.halvedLength(header.width), height: Halver.halvedLength(header.height))
            } else {
                pixels = BoxFilter.halve(try decode(input, header: header).oriented(header.orientation))
            }
            let started = ContinuousClock.now
            halved = (try encode(pixels, lossless: header.lossless, quality: quality, icc: header.icc), pixels.width, pixels.height)
            encodeDuration = ContinuousClock.now - started
        }
        let upright = header.orientation.swapsDimensions ? (header.height, header.width) : (header.width, header.height)
        return HalvedImage(bytes: halved.bytes, format: .webp, inputWidth: upright.0, inputHeight: upright.1,
                           outputWidth: halved.width, outputHeight: halved.height, warning: nil, warningCount: 0,
                           encodeDuration: encodeDuration)
    }

    /// A still at full size: RGBA with alpha, RGB without.
    static func decode(_ input: [UInt8], header: WebPHeader) throws(HalfsizeError) -> PixelBuffer {
        let channels = header.hasAlpha ? 4 : 3
        return try fill(width: header.width, height: header.height, channels: channels) { pixels, message in
            input.withUnsafeBufferPointer { hs_webp_decode($0.baseAddress, $0.count, Int32(channels), pixels, message) }
        }
    }

    static func decodeScaled(_ input: [UInt8], width: Int, height: Int) throws(HalfsizeError) -> PixelBuffer {
        try fill(width: width, height: height, channels: 3) { pixels, message in
            input.withUnsafeBufferPointer { hs_webp_decode_scaled($0.baseAddress, $0.count, Int32(width), Int32(height), pixels, message) }
        }
    }

    private static func fill(width: Int, height: Int, channels: Int,
                             _ decode: (UnsafeMutablePointer<UInt8>?, UnsafeMutablePointer<CChar>) -> Int32) throws(HalfsizeError) -> PixelBuffer {
        var message = [CChar](repeating: 0, count: 200)
        var status: Int32 = 0
        let count = width * height * channels
        let bytes = [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            status = message.withUnsafeMutableBufferPointer { decode(buffer.baseAddress, $0.baseAddress!) }
            initialized = count  // thrown away below on failure
        }
        try CodecStatus.check(status, format: "WebP", message: CodecStatus.text(message))
        return PixelBuffer(width: width, height: height, channels: channels, bytes: bytes)
    }

    /// Every frame, as a whole upright RGBA canvas, with the time it ends (ms from the start).
    static func frames(_ input: [UInt8], header: WebPHeader, _ each: (PixelBuffer, Int) throws(HalfsizeError) -> Void) throws(HalfsizeError) {
        var message = [CChar](repeating: 0, count: 200)
        var reader: OpaquePointer?
        let outcome = input.withUnsafeBufferPointer { buffer -> Result<Void, HalfsizeError> in
            let opened = hs_webp_frames_open(buffer.baseAddress, buffer.count, &reader, &message)
            defer { hs_webp_frames_close(reader) }
            return Result { () throws(HalfsizeError) in
                try CodecStatus.check(opened, format: "WebP", message: CodecStatus.text(message))
                while true {
                    var canvas: UnsafePointer<UInt8>?
                    var end: Int32 = 0
                    try CodecStatus.check(hs_webp_frames_next(reader, &canvas, &end), format: "WebP", message: "a frame cannot be decoded")
                    guard let canvas else { return }
                    let frame = PixelBuffer(width: header.width, height: header.height, channels: 4,
                                            bytes: Array(UnsafeBufferPointer(start: canvas, count: header.width * header.height * 4)))
                    try each(frame.oriented(header.orientation), Int(end))
                }
            }
        }
        try outcome.get()
    }

    static func halveAnimation(_ input: [UInt8], _ header: WebPHeader, quality: Float,
                               encodeDuration: inout Duration) throws(HalfsizeError) -> (bytes: [UInt8], width: Int, height: Int) {
        let (width, height) = header.orientation.swapsDimensions ? (header.height, header.width) : (header.width, header.height)
        let outWidth = Halver.halvedLength(width), outHeight = Halver.halvedLength(height)
        var animation: OpaquePointer?
        try CodecStatus.check(hs_webp_animation_new(Int32(outWidth), Int32(outHeight), Int32(header.loopCount), header.background,
                                                    header.lossless ? 1 : 0, quality, &animation),
                              format: "WebP", message: "cannot start the animation", encoding: true)
        defer { hs_webp_animation_close(animation) }
        var message = [CChar](repeating: 0, count: 200)
        var start = 0
        var encoding = Duration.zero
        try frames(input, header: header) { (frame, end) throws(HalfsizeError) in
            let halved = BoxFilter.halve(frame)
            let started = ContinuousClock.now
            let status = halved.bytes.withUnsafeBufferPointer { hs_webp_animation_add(animation, $0.baseAddress, Int32(start), &message) }
            encoding += ContinuousClock.now - started
            try CodecStatus.check(status, format: "WebP", message: CodecStatus.text(message), encoding: true)
            start = end
        }
        let started = ContinuousClock.now
        var output: UnsafeMutablePointer<UInt8>?
        var length = 0
        let status = header.icc.withUnsafeBufferPointer { icc in
            hs_webp_animation_finish(animation, Int32(start), icc.baseAddress, icc.count, &output, &length, &message)
        }
        defer { hs_webp_free(output) }
        try CodecStatus.check(status, format: "WebP", message: CodecStatus.text(message), encoding: true)
        encodeDuration = encoding + (ContinuousClock.now - started)
        return (Array(UnsafeBufferPointer(start: output, count: length)), outWidth, outHeight)
    }

    static func encode(_ pixels: PixelBuffer, lossless: Bool, quality: Float, icc: [UInt8]) throws(HalfsizeError) -> [UInt8] {
        var output: UnsafeMutablePointer<UInt8>?
        var length = 0
        var message = [CChar](repeating: 0, count: 200)
        let status = pixels.bytes.withUnsafeBufferPointer { source in
            icc.withUnsafeBufferPointer { profile in
                hs_webp_encode(source.baseAddress, Int32(pixels.width), Int32(pixels.height), Int32(pixels.channels), lossless ? 1 : 0,
                               quality, profile.baseAddress, profile.count, &output, &length, &message)
            }
        }
        defer { hs_webp_free(output) }
        try CodecStatus.check(status, format: "WebP", message: CodecStatus.text(message), encoding: true)
        return Array(UnsafeBufferPointer(start: output, count: length))
    }
}
