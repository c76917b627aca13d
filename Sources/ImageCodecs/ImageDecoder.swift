import HalfsizeCore

/// Full-size decoding, for checking results (tests, the benchmark's quality figure): pixels as
/// stored, 8-bit grey, grey+alpha, RGB or RGBA, with the EXIF orientation it carries.
public enum ImageDecoder {
    public struct Decoded: Sendable {
        public var pixels: PixelBuffer
        public var format: ImageFormat
        public var orientation: Orientation
        /// The pixels as a person sees them.
        public var upright: PixelBuffer { pixels.oriented(orientation) }
    }

    public static func decode(_ input: [UInt8], maximumPixels: Int = 200_000_000) throws(HalfsizeError) -> Decoded {
        switch ImageFormat.detect(input) {
        case .jpeg:
            return try JPEGDecoder.with(input, scaleDenominator: 1, maximumPixels: maximumPixels, maximumScans: 0) { decoder throws(HalfsizeError) in
                Decoded(pixels: try decoder.readPixels(), format: .jpeg, orientation: decoder.orientation)
            }
        case .png:
            return try PNGDecoder.with(input, maximumPixels: maximumPixels) { decoder throws(HalfsizeError) in
                Decoded(pixels: try decoder.readImage(), format: .png, orientation: .up)
            }
        case .webp:
            let header = try WebPHeader.read(input, maximumPixels: maximumPixels, maximumFrames: .max)
            guard header.animated else {
                return Decoded(pixels: try WebPHalver.decode(input, header: header), format: .webp, orientation: header.orientation)
            }
            return Decoded(pixels: try animation(input, maximumPixels: maximumPixels).frames[0], format: .webp, orientation: .up)
        case .gif:
            return Decoded(pixels: try animation(input, maximumPixels: maximumPixels).frames[0], format: .gif, orientation: .up)
        case .avif:
            // The first frame only: a sequence's other frames are not decoded.
            return try AVIFDecoder.with(input, maximumPixels: maximumPixels, maximumFrames: .max) { decoder throws(HalfsizeError) in
                Decoded(pixels: try decoder.nextFrame().pixels, format: .avif, orientation: .up)
            }
        case .bmp:
            return Decoded(pixels: try BMPDecoder(input, maximumPixels: maximumPixels).read(), format: .bmp, orientation: .up)
        case .tiff:
            return try TIFFDecoder.with(input, maximumPixels: maximumPixels) { decoder throws(HalfsizeError) in
                Decoded(pixels: try decoder.readPixels(), format: .tiff, orientation: decoder.orientation)
            }
        case let other:
            throw HalfsizeError(.unsupportedFormat, "the file is \(other.displayName), not \(ImageFormat.supportedNames)")
        }
    }

    /// An animation's frames as whole upright RGBA canvases, when each ends (ms) and its loop count
    /// (0: for ever; -1: a GIF without a loop extension, played once).
    public struct Animation: Sendable {
        public var frames: [PixelBuffer]
        public var endTimes: [Int]
        public var loopCount: Int
    }

    /// Every frame of an animated WebP, GIF or AVIF sequence (a still gives one frame).
    public static func animation(_ input: [UInt8], maximumPixels: Int = 200_000_000) throws(HalfsizeError) -> Animation {
        if ImageFormat.detect(input) == .gif {
            let gif = try GIFFrames.read(input, maximumPixels: maximumPixels, maximumFrames: .max)
            let ends = gif.delays.reduce(into: [Int]()) { ends, delay in ends.append((ends.last ?? 0) + delay * 10) }
            return Animation(frames: gif.canvases, endTimes: ends, loopCount: gif.loopCount)
        }
        if ImageFormat.detect(input) == .avif {
            return try AVIFDecoder.with(input, maximumPixels: maximumPixels, maximumFrames: .max) { decoder throws(HalfsizeError) in
                var animation = Animation(frames: [], endTimes: [], loopCount: 0)
                var ticks: UInt64 = 0
                for _ in 0..<decoder.frameCount {
                    let frame = try decoder.nextFrame()
                    ticks += frame.duration
                    animation.frames.append(frame.pixels)
                    animation.endTimes.append(Int(ticks * 1000 / max(1, decoder.info.timescale)))
                }
                return animation
            }
        }
        guard ImageFormat.detect(input) == .webp else {
            throw HalfsizeError(.unsupportedFormat, "only WebP, GIF and AVIF animations are read here")
        }
        let header = try WebPHeader.read(input, maximumPixels: maximumPixels, maximumFrames: .max)
        var animation = Animation(frames: [], endTimes: [], loopCount: header.loopCount)
        try WebPHalver.frames(input, header: header) { frame, end in
            animation.frames.append(frame)
            animation.endTimes.append(end)
        }
        return animation
    }
}
