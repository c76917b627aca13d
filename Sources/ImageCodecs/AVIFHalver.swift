import CHalfsizeShims
import HalfsizeCore

/// An AVIF whose boxes are parsed. Only `with` makes one; it reads the input in place.
final class AVIFDecoder: CodecDecoder {
    private let handle: OpaquePointer
    var info: hs_avif_info { hs_avif_reader_info(handle).pointee }
    var width: Int { Int(info.width) }
    var height: Int { Int(info.height) }
    var frameCount: Int { max(1, Int(info.frame_count)) }
    var hasAlpha: Bool { info.has_alpha != 0 }
    var icc: [UInt8] { Array(UnsafeBufferPointer(start: info.icc, count: info.icc_length)) }

    /// The turns that show the image upright: irot, then imir (they are normative in AVIF);
    /// without them, an EXIF orientation.
    var orientations: [Orientation] {
        let rotation: [Orientation] = [.up, .left, .down, .right]  // irot counts anticlockwise quarter turns
        let turns = [rotation[Int(info.rotation) & 3]] + (info.mirror == 0 ? [.downMirrored] : info.mirror == 1 ? [.mirrored] : [])
        guard turns == [.up] else { return turns }
        let exif = Array(UnsafeBufferPointer(start: info.exif, count: info.exif_length))
        // The Exif item starts with the offset of its TIFF header.
        let offset = exif.count >= 4 ? Int(exif[0]) << 24 | Int(exif[1]) << 16 | Int(exif[2]) << 8 | Int(exif[3]) : 0
        let tiff = exif.count > 4 + offset ? Array(exif[(4 + offset)...]) : exif
        return [Orientation.fromEXIF(tiff.starts(with: Array("Exif\0\0".utf8)) ? Array(tiff.dropFirst(6)) : tiff)]
    }

    init(handle: OpaquePointer) { self.handle = handle }
    deinit { hs_avif_close(handle) }

    static func with<Result>(_ input: [UInt8], maximumPixels: Int, maximumFrames: Int,
                             _ body: (AVIFDecoder) throws(HalfsizeError) -> Result) throws(HalfsizeError) -> Result {
        try open(input, format: "AVIF", { buffer, handle in
            hs_avif_open(buffer.baseAddress, buffer.count, UInt64(maximumPixels), Int32(clamping: maximumFrames), &handle)
        }, body)
    }

    func check(_ status: Int32) throws(HalfsizeError) {
        var info = self.info
        try CodecStatus.check(status, format: "AVIF", message: CodecStatus.message(&info.message))
    }

    /// The next frame, upright RGBA, and how long it shows in timescale ticks.
    func nextFrame() throws(HalfsizeError) -> (pixels: PixelBuffer, duration: UInt64) {
        var duration: UInt64 = 0
        let stored = try readImage(width: width, height: height, channels: 4) { hs_avif_next_rgba(handle, $0, &duration) }
        return (orientations.reduce(stored) { $0.oriented($1) }, duration)
    }
}

/// AVIF (libavif; AV1 decoded by dav1d or libgav1): stills and image sequences, alpha, 8–12 bits
/// (read as 8). irot and imir are applied (EXIF orientation when they are absent), every frame
/// halved with the alpha-weighted average, and the result written as AVIF by libavif's default AV1
/// encoder at a fast speed (`avifSpeed`), quality mapped onto AV1's quantizer, frame durations and
/// the ICC profile kept.
enum AVIFHalver {
    /// libavif's speed 0–10: 8 keeps an encode of a product photo within tens of milliseconds.
    static let avifSpeed: Int32 = 8

    static func halve(_ input: [UInt8], options: HalvingOptions) throws(HalfsizeError) -> HalvedImage {
        try AVIFDecoder.with(input, maximumPixels: options.maximumPixels, maximumFrames: options.maximumFrames) { decoder throws(HalfsizeError) in
            var writer: OpaquePointer?
            try CodecStatus.check(hs_avif_writer_new(Int32(options.quality), avifSpeed, decoder.info.timescale, &writer),
                                  format: "AVIF", message: "cannot start the encoder", encoding: true)
            defer { hs_avif_writer_close(writer) }
            var message = [CChar](repeating: 0, count: 200)
            var encoding = Duration.zero
            var size = (input: (0, 0), output: (0, 0))
            let icc = decoder.icc
            for _ in 0..<decoder.frameCount {
                let frame = try decoder.nextFrame()
                var halved = BoxFilter.halve(frame.pixels)
                if !decoder.hasAlpha { halved = LosslessReduction.dropAlpha(halved) }
                size = ((frame.pixels.width, frame.pixels.height), (halved.width, halved.height))
                let started = ContinuousClock.now
                let status = halved.bytes.withUnsafeBufferPointer { pixels in
                    icc.withUnsafeBufferPointer { profile in
                        hs_avif_writer_add(writer, pixels.baseAddress, Int32(halved.width), Int32(halved.height), halved.channels == 4 ? 1 : 0,
                                           profile.baseAddress, profile.count, frame.duration, decoder.frameCount == 1 ? 1 : 0, &message)
                    }
                }
                encoding += ContinuousClock.now - started
                try CodecStatus.check(status, format: "AVIF", message: CodecStatus.text(message), encoding: true)
            }
            let started = ContinuousClock.now
            var output: UnsafeMutablePointer<UInt8>?
            var length = 0
            let status = hs_avif_writer_finish(writer, &output, &length, &message)
            defer { hs_free(output) }
            try CodecStatus.check(status, format: "AVIF", message: CodecStatus.text(message), encoding: true)
            return HalvedImage(bytes: Array(UnsafeBufferPointer(start: output, count: length)), format: .avif,
                               inputWidth: size.input.0, inputHeight: size.input.1, outputWidth: size.output.0, outputHeight: size.output.1,
                               warning: nil, warningCount: 0, encodeDuration: encoding + (ContinuousClock.now - started))
        }
    }
}
