import HalfsizeCore
import ImageCodecs
import TestCorpus
import Testing

/// WebP through the halver, on files libwebp's own encoders wrote with known pixels.
@Suite("WebP")
struct WebPFormsTests {
    /// 4 × 2 RGBA: opaque red and transparent green alternate on the left, grey and blue on the right.
    static let rgba: [UInt8] = [
        255, 0, 0, 255,   0, 255, 0, 0,     100, 100, 100, 255,   0, 0, 255, 255,
        255, 0, 0, 255,   0, 255, 0, 0,     100, 100, 100, 255,   0, 0, 255, 255,
    ]

    @Test func losslessDecodesExactlyAndHalvesWithAlphaWeighting() throws {
        let input = FixtureWebP.encode(Self.rgba, width: 4, height: 2, channels: 4, lossless: true)
        let decoded = try ImageDecoder.decode(input)
        #expect(decoded.format == .webp && decoded.pixels.channels == 4)
        #expect(decoded.pixels.bytes == Self.rgba)

        let halved = try Halver.halve(input)
        #expect(halved.format == .webp && (halved.outputWidth, halved.outputHeight) == (2, 1))
        let output = try ImageDecoder.decode(halved.bytes).pixels
        #expect(output.channels == 4, "alpha is kept")
        // Red counts alone in the colour (the green is transparent); alpha is the plain average.
        #expect(nearlyEqual(pixel(output, 0, 0), [255, 0, 0, 128], within: 1), "\(pixel(output, 0, 0))")
        #expect(nearlyEqual(pixel(output, 1, 0), [50, 50, 178, 255], within: 1), "\(pixel(output, 1, 0))")
        #expect(Self.isLossless(halved.bytes), "lossless stays lossless")
    }

    @Test func lossyOpaqueIsHalvedByTheScalerAndStaysLossy() throws {
        let (width, height) = (65, 47)
        var rgb: [UInt8] = []
        for y in 0..<height { for x in 0..<width { rgb += [UInt8(x * 3), UInt8(y * 5), 128] } }
        let input = FixtureWebP.encode(rgb, width: width, height: height, channels: 3, lossless: false, quality: 95)
        let halved = try Halver.halve(input, options: HalvingOptions(quality: 90))
        #expect((halved.outputWidth, halved.outputHeight) == (33, 24))
        #expect(!Self.isLossless(halved.bytes))
        let original = try ImageDecoder.decode(input).pixels
        let output = try ImageDecoder.decode(halved.bytes).pixels
        #expect(output.channels == 3)
        for (x, y) in [(0, 0), (10, 10), (32, 23), (20, 5)] {
            let sx = min(2 * x, width - 1), sy = min(2 * y, height - 1)
            #expect(nearlyEqual(pixel(output, x, y), pixel(original, sx, sy), within: 12), "(\(x), \(y))")
        }
    }

    @Test func exifOrientationIsAppliedAndTheICCProfileKept() throws {
        // Stored 40 × 20: left half red, right half blue; orientation 6 turns it a quarter clockwise.
        var rgb: [UInt8] = []
        for _ in 0..<20 { for x in 0..<40 { rgb += x < 20 ? [255, 0, 0] : [0, 0, 255] } }
        let icc = Array("fake-icc-profile-bytes".utf8)
        let input = FixtureWebP.encode(rgb, width: 40, height: 20, channels: 3, lossless: true, orientation: 6, icc: icc)
        let halved = try Halver.halve(input)
        #expect((halved.inputWidth, halved.inputHeight) == (20, 40))
        #expect((halved.outputWidth, halved.outputHeight) == (10, 20))
        let output = try ImageDecoder.decode(halved.bytes).pixels
        #expect(nearlyEqual(pixel(output, 5, 2), [255, 0, 0], within: 2) && nearlyEqual(pixel(output, 5, 17), [0, 0, 255], within: 2))
        #expect(Self.chunk("ICCP", in: halved.bytes) == icc)
        #expect(Self.chunk("EXIF", in: halved.bytes) == nil, "orientation applied, so EXIF is dropped")
    }

    @Test func anAnimationKeepsEveryFrameItsTimingAndLoopCount() throws {
        let (width, height) = (9, 6)
        let colours: [[UInt8]] = [[255, 0, 0, 255], [0, 255, 0, 255], [0, 0, 255, 128]]
        let frames = colours.map { colour in (0..<width * height).flatMap { _ in colour } }
        let input = FixtureWebP.animation(frames, durations: [100, 250, 50], width: width, height: height, loopCount: 3, lossless: true)
        let halved = try Halver.halve(input)
        #expect((halved.outputWidth, halved.outputHeight) == (5, 3))
        let animation = try ImageDecoder.animation(halved.bytes)
        #expect(animation.frames.count == 3)
        #expect(animation.endTimes == [100, 350, 400])
        #expect(animation.loopCount == 3)
        for (frame, colour) in zip(animation.frames, colours) {
            #expect((frame.width, frame.height) == (5, 3))
            #expect(nearlyEqual(pixel(frame, 2, 1), colour.map(Int.init), within: 1), "\(pixel(frame, 2, 1))")
        }
    }

    @Test func limitsAreCheckedBeforeDecodingAndBrokenFilesAreCorrupt() throws {
        let still = FixtureWebP.encode(Self.rgba, width: 4, height: 2, channels: 4, lossless: true)
        do {
            _ = try Halver.halve(still, options: HalvingOptions(maximumPixels: 7))
            Issue.record("8 pixels pass a limit of 7")
        } catch {
            #expect(error.code == .tooLarge && error.message.contains("4 x 2"), "\(error)")
        }
        let frame = [UInt8](repeating: 200, count: 4 * 4 * 4)
        let animation = FixtureWebP.animation([frame, frame.map { $0 / 2 }, frame], durations: [10, 10, 10], width: 4, height: 4,
                                              loopCount: 0, lossless: true)
        do {
            _ = try Halver.halve(animation, options: HalvingOptions(maximumFrames: 2))
            Issue.record("three frames pass a limit of two")
        } catch {
            #expect(error.code == .tooLarge && error.message.contains("frames"), "\(error)")
        }
        for broken in [Array(still.prefix(still.count / 2)), Array(still.prefix(20)) + [UInt8](repeating: 0x5A, count: 40)] {
            do {
                _ = try Halver.halve(broken)
                Issue.record("a broken WebP was halved")
            } catch {
                #expect(error.code == .corruptImage, "\(error)")
            }
        }
    }

    static func isLossless(_ webp: [UInt8]) -> Bool { chunk("VP8L", in: webp) != nil }

    /// The payload of the first RIFF chunk of `type`, if any.
    static func chunk(_ type: String, in webp: [UInt8]) -> [UInt8]? {
        var offset = 12
        while offset + 8 <= webp.count {
            let name = String(decoding: webp[offset..<offset + 4], as: UTF8.self)
            let size = Int(webp[offset + 4]) | Int(webp[offset + 5]) << 8 | Int(webp[offset + 6]) << 16 | Int(webp[offset + 7]) << 24
            if name == type { return Array(webp[offset + 8..<min(webp.count, offset + 8 + size)]) }
            offset += 8 + size + (size & 1)
        }
        return nil
    }
}
