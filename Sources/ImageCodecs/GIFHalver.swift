import CHalfsizeShims
import HalfsizeCore

/// A GIF read whole: every frame as the canvas a viewer shows (transparency and disposal applied),
/// with its delay and its colour table.
struct GIFFrames {
    var width: Int, height: Int
    /// RGBA canvases.
    var canvases: [PixelBuffer]
    /// Centiseconds each frame is shown.
    var delays: [Int]
    /// Each frame's colour table, RGB.
    var palettes: [[UInt8]]
    /// The NETSCAPE2.0 loop count (0: for ever), or -1 when the file has none (played once).
    var loopCount: Int

    /// Counts frames from the records first (no pixel decoded) and refuses too many before any canvas exists.
    static func read(_ input: [UInt8], maximumPixels: Int, maximumFrames: Int) throws(HalfsizeError) -> GIFFrames {
        var info = hs_gif_info()
        let probed = input.withUnsafeBufferPointer { hs_gif_probe($0.baseAddress, $0.count, UInt64(maximumPixels), Int32(clamping: maximumFrames), &info) }
        try CodecStatus.check(probed, format: "GIF", message: CodecStatus.message(&info.message))
        let width = Int(info.width), height = Int(info.height), count = Int(info.frame_count)
        let canvasBytes = width * height * 4
        var canvases = [UInt8](repeating: 0, count: canvasBytes * count)
        var delays = [Int32](repeating: 0, count: count)
        var palettes = [UInt8](repeating: 0, count: 768 * count)
        var sizes = [Int32](repeating: 0, count: count)
        var message = [CChar](repeating: 0, count: 200)
        let status = input.withUnsafeBufferPointer { source in
            hs_gif_decode(source.baseAddress, source.count, Int32(count), &canvases, &delays, &palettes, &sizes, &message)
        }
        try CodecStatus.check(status, format: "GIF", message: CodecStatus.text(message))
        return GIFFrames(
            width: width, height: height,
            canvases: (0..<count).map { PixelBuffer(width: width, height: height, channels: 4,
                                                    bytes: Array(canvases[$0 * canvasBytes..<($0 + 1) * canvasBytes])) },
            delays: delays.map(Int.init),
            palettes: (0..<count).map { Array(palettes[$0 * 768..<$0 * 768 + Int(sizes[$0]) * 3]) },
            loopCount: Int(info.loop_count))
    }
}

/// GIF: stills and animations, interlaced or not, with transparency and every disposal method.
/// Each frame's canvas is halved (alpha-weighted 2×2 average), its alpha made one bit again (GIF's
/// transparency), and written as a whole-canvas frame with its own colour table: the exact colours
/// when the halved frame has at most 256, else each pixel mapped to the nearest colour of the
/// frame's source table (the palette kept where it fits). Delays and the loop count are kept.
enum GIFHalver {
    static func halve(_ input: [UInt8], options: HalvingOptions) throws(HalfsizeError) -> HalvedImage {
        let source = try GIFFrames.read(input, maximumPixels: options.maximumPixels, maximumFrames: options.maximumFrames)
        let outWidth = Halver.halvedLength(source.width), outHeight = Halver.halvedLength(source.height)
        var indices: [UInt8] = []
        indices.reserveCapacity(outWidth * outHeight * source.canvases.count)
        var palettes: [UInt8] = [], sizes: [Int32] = [], transparent: [Int32] = []
        for (canvas, sourcePalette) in zip(source.canvases, source.palettes) {
            let halved = oneBitAlpha(BoxFilter.halve(canvas))
            let palette = Palette.exact(halved) ?? nearest(halved, to: sourcePalette)
            indices += palette.indices
            let entries = palette.rgb.count / 3
            palettes += palette.rgb + [UInt8](repeating: 0, count: 768 - palette.rgb.count)
            sizes.append(Int32(entries))
            // Entries that are not opaque come first; after oneBitAlpha there is at most one.
            transparent.append(palette.alpha.first == 0 ? 0 : -1)
        }
        let started = ContinuousClock.now
        var output: UnsafeMutablePointer<UInt8>?
        var length = 0
        var message = [CChar](repeating: 0, count: 200)
        let delays = source.delays.map(Int32.init)
        let status = hs_gif_encode(indices, Int32(outWidth), Int32(outHeight), Int32(source.canvases.count), palettes, sizes, transparent,
                                   delays, Int32(source.loopCount), &output, &length, &message)
        defer { hs_free(output) }
        try CodecStatus.check(status, format: "GIF", message: CodecStatus.text(message), encoding: true)
        return HalvedImage(bytes: Array(UnsafeBufferPointer(start: output, count: length)), format: .gif,
                           inputWidth: source.width, inputHeight: source.height, outputWidth: outWidth, outputHeight: outHeight,
                           warning: nil, warningCount: 0, encodeDuration: ContinuousClock.now - started)
    }

    /// GIF transparency is one bit: at least half opaque becomes opaque, the rest transparent black.
    static func oneBitAlpha(_ image: PixelBuffer) -> PixelBuffer {
        var bytes = image.bytes
        for pixel in stride(from: 0, to: bytes.count, by: 4) {
            if bytes[pixel + 3] >= 128 {
                bytes[pixel + 3] = 255
            } else {
                bytes[pixel] = 0; bytes[pixel + 1] = 0; bytes[pixel + 2] = 0; bytes[pixel + 3] = 0
            }
        }
        return PixelBuffer(width: image.width, height: image.height, channels: 4, bytes: bytes)
    }

    /// The source table as RGBA entries, a transparent entry first when the frame needs one (in
    /// place of the last colour if the table is full).
    static func nearest(_ image: PixelBuffer, to sourcePalette: [UInt8]) -> Palette {
        var entries: [UInt8] = []
        let needsTransparent = stride(from: 3, to: image.bytes.count, by: 4).contains { image.bytes[$0] == 0 }
        if needsTransparent { entries += [0, 0, 0, 0] }
        let colours = min(sourcePalette.count / 3, needsTransparent ? 255 : 256)
        for entry in 0..<colours { entries += sourcePalette[entry * 3..<entry * 3 + 3] + [255] }
        // A frame's table is never empty (the reader refuses one without), so nearest has entries.
        return Palette.nearest(image, entries: entries.isEmpty ? [0, 0, 0, 255] : entries)!
    }
}
