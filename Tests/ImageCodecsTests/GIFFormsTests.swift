import HalfsizeCore
import ImageCodecs
import TestCorpus
import Testing

/// GIF through the halver, on files giflib's own encoder wrote with known pixels.
@Suite("GIF")
struct GIFFormsTests {
    /// black, red, green, blue, white, grey, yellow, cyan
    static let palette: [UInt8] = [0, 0, 0, 255, 0, 0, 0, 255, 0, 0, 0, 255, 255, 255, 255, 128, 128, 128, 255, 255, 0, 0, 255, 255]

    @Test func aStillDecodesExactlyAndHalvesWithTransparencyKept() throws {
        // 8 × 2 in 2 × 2 blocks: red | one red, three transparent | blue | white; index 0 is transparent.
        let indices: [UInt8] = [1, 1, 1, 0, 3, 3, 4, 4,
                                1, 1, 0, 0, 3, 3, 4, 4]
        let input = FixtureGIF.encode(width: 8, height: 2, palette: Self.palette,
                                      frames: [.init(width: 8, height: 2, indices: indices, transparent: 0)])
        let decoded = try ImageDecoder.decode(input).pixels
        #expect(decoded.channels == 4 && (decoded.width, decoded.height) == (8, 2))
        #expect(pixel(decoded, 0, 0) == [255, 0, 0, 255] && pixel(decoded, 3, 0) == [0, 0, 0, 0] && pixel(decoded, 6, 1) == [255, 255, 255, 255])

        let halved = try Halver.halve(input)
        #expect(halved.format == .gif && (halved.outputWidth, halved.outputHeight) == (4, 1))
        let output = try ImageDecoder.decode(halved.bytes).pixels
        #expect(pixel(output, 0, 0) == [255, 0, 0, 255])
        #expect(pixel(output, 1, 0) == [0, 0, 0, 0], "three of four transparent: transparent")
        #expect(pixel(output, 2, 0) == [0, 0, 255, 255] && pixel(output, 3, 0) == [255, 255, 255, 255])
    }

    @Test func interlacedRowsComeBackInOrder() throws {
        let indices = (0..<8).flatMap { row in [UInt8](repeating: UInt8(row), count: 4) }
        let input = FixtureGIF.encode(width: 4, height: 8, palette: Self.palette, frames: [.init(width: 4, height: 8, indices: indices, interlaced: true)])
        let decoded = try ImageDecoder.decode(input).pixels
        for row in 0..<8 {
            let entry = row * 3
            #expect(pixel(decoded, 2, row) == Self.palette[entry..<entry + 3].map(Int.init) + [255], "row \(row)")
        }
    }

    @Test func anAnimationKeepsFramesTimingLoopAndDisposal() throws {
        // 8 × 8: a red canvas; a blue 4 × 4 top-left, cleared after it shows; a green 4 × 4 bottom-right.
        let frames: [FixtureGIF.Frame] = [
            .init(width: 8, height: 8, indices: [UInt8](repeating: 1, count: 64), disposal: 1, delay: 10),
            .init(width: 4, height: 4, indices: [UInt8](repeating: 3, count: 16), disposal: 2, delay: 20),
            .init(left: 4, top: 4, width: 4, height: 4, indices: [UInt8](repeating: 2, count: 16), disposal: 1, delay: 30),
        ]
        let input = FixtureGIF.encode(width: 8, height: 8, palette: Self.palette, frames: frames, loopCount: 0)
        let source = try ImageDecoder.animation(input)
        #expect(source.frames.count == 3 && source.endTimes == [100, 300, 600] && source.loopCount == 0)
        #expect(pixel(source.frames[1], 0, 0) == [0, 0, 255, 255])
        #expect(pixel(source.frames[2], 0, 0) == [0, 0, 0, 0], "restored to background after frame 2")
        #expect(pixel(source.frames[2], 7, 7) == [0, 255, 0, 255] && pixel(source.frames[2], 7, 0) == [255, 0, 0, 255])

        let halved = try Halver.halve(input)
        #expect(halved.format == .gif && (halved.outputWidth, halved.outputHeight) == (4, 4))
        let output = try ImageDecoder.animation(halved.bytes)
        #expect(output.frames.count == 3 && output.endTimes == [100, 300, 600] && output.loopCount == 0)
        #expect(pixel(output.frames[0], 0, 0) == [255, 0, 0, 255])
        #expect(pixel(output.frames[1], 0, 0) == [0, 0, 255, 255] && pixel(output.frames[1], 3, 3) == [255, 0, 0, 255])
        #expect(pixel(output.frames[2], 0, 0) == [0, 0, 0, 0] && pixel(output.frames[2], 3, 3) == [0, 255, 0, 255])
        #expect(pixel(output.frames[2], 3, 0) == [255, 0, 0, 255])
    }

    @Test func moreThan256ColoursMapToTheSourcePalette() throws {
        // Neighbouring pixels far apart in a 256-entry table: their averages are thousands of new colours.
        var palette: [UInt8] = []
        for level in 0..<256 { palette += [UInt8(level), UInt8(255 - level), UInt8(level / 2)] }
        let (width, height) = (128, 128)
        let indices = (0..<width * height).map { UInt8(truncatingIfNeeded: ($0 % width) * 37 + ($0 / width) * 101) }
        let input = FixtureGIF.encode(width: width, height: height, palette: palette, frames: [.init(width: width, height: height, indices: indices)])
        let halved = try Halver.halve(input)
        let output = try ImageDecoder.decode(halved.bytes).pixels
        let sourceColours = Set(stride(from: 0, to: palette.count, by: 3).map { [Int(palette[$0]), Int(palette[$0 + 1]), Int(palette[$0 + 2]), 255] })
        #expect((0..<64).allSatisfy { sourceColours.contains(pixel(output, $0, $0)) }, "every output colour is one of the source table")
    }

    @Test func limitsAreCheckedBeforeDecodingAndBrokenFilesAreCorrupt() throws {
        let frame = FixtureGIF.Frame(width: 4, height: 4, indices: [UInt8](repeating: 1, count: 16), delay: 5)
        let input = FixtureGIF.encode(width: 4, height: 4, palette: Self.palette, frames: [frame, frame, frame], loopCount: 0)
        for (options, words) in [(HalvingOptions(maximumFrames: 2), "frames"), (HalvingOptions(maximumPixels: 40), "pixels")] {
            do {
                _ = try Halver.halve(input, options: options)
                Issue.record("the limit did not hold: \(words)")
            } catch {
                #expect(error.code == .tooLarge, "\(error)")
            }
        }
        for broken in [Array(input.prefix(input.count / 2)), Array(input.prefix(13)) + [UInt8](repeating: 0x2C, count: 30)] {
            do {
                _ = try Halver.halve(broken)
                Issue.record("a broken GIF was halved")
            } catch {
                #expect(error.code == .corruptImage, "\(error)")
            }
        }
    }
}
