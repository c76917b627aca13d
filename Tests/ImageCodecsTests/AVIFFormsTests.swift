import HalfsizeCore
import ImageCodecs
import TestCorpus
import Testing

/// AVIF through the halver, on files libavif's own encoder wrote (near-lossless, so pixel values
/// are known within a few levels).
@Suite("AVIF")
struct AVIFFormsTests {

    /// 16 × 8: opaque red on the left, half-transparent blue on the right.
    static let halves: [UInt8] = {
        var rgba: [UInt8] = []
        for _ in 0..<8 { for x in 0..<16 { rgba += x < 8 ? [255, 0, 0, 255] : [0, 0, 255, 128] } }
        return rgba
    }()

    @Test func aStillWithAlphaDecodesAndHalvesIntoAVIF() throws {
        let input = FixtureAVIF.encode([Self.halves], durations: [0], width: 16, height: 8, alpha: true)
        let decoded = try ImageDecoder.decode(input)
        #expect(decoded.format == .avif && (decoded.pixels.width, decoded.pixels.height) == (16, 8))
        #expect(nearlyEqual(pixel(decoded.pixels, 2, 2), [255, 0, 0, 255], within: 8) && nearlyEqual(pixel(decoded.pixels, 12, 5), [0, 0, 255, 128], within: 8))
        let halved = try Halver.halve(input)
        #expect(halved.format == .avif && (halved.outputWidth, halved.outputHeight) == (8, 4))
        let output = try ImageDecoder.decode(halved.bytes).pixels
        #expect(nearlyEqual(pixel(output, 1, 1), [255, 0, 0, 255], within: 16), "\(pixel(output, 1, 1))")
        #expect(nearlyEqual(pixel(output, 6, 2), [0, 0, 255, 128], within: 16), "alpha kept: \(pixel(output, 6, 2))")
    }

    @Test func irotIsAppliedAndASequenceKeepsItsFramesAndDurations() throws {
        // Stored 16 × 8 turned a quarter anticlockwise: shown 8 × 16, the left (red) half on the bottom.
        let rotated = FixtureAVIF.encode([Self.halves], durations: [0], width: 16, height: 8, alpha: true, rotation: 1)
        let halved = try Halver.halve(rotated)
        #expect((halved.inputWidth, halved.inputHeight) == (8, 16) && (halved.outputWidth, halved.outputHeight) == (4, 8))
        let upright = try ImageDecoder.decode(halved.bytes).pixels
        #expect(nearlyEqual(Array(pixel(upright, 2, 7).prefix(3)), [255, 0, 0], within: 16) && nearlyEqual(Array(pixel(upright, 2, 0).prefix(3)), [0, 0, 255], within: 16))

        let colours: [[UInt8]] = [[255, 0, 0, 255], [0, 255, 0, 255], [0, 0, 255, 255]]
        let frames = colours.map { colour in (0..<8 * 8).flatMap { _ in colour } }
        let sequence = FixtureAVIF.encode(frames, durations: [100, 250, 50], width: 8, height: 8, alpha: false)
        let halvedSequence = try Halver.halve(sequence)
        let animation = try ImageDecoder.animation(halvedSequence.bytes)
        #expect(animation.frames.count == 3 && animation.endTimes == [100, 350, 400])
        for (frame, colour) in zip(animation.frames, colours) {
            #expect((frame.width, frame.height) == (4, 4) && nearlyEqual(pixel(frame, 1, 1), colour.map(Int.init), within: 16))
        }
    }

    @Test func limitsAreCheckedBeforeDecodingAndBrokenFilesAreCorrupt() throws {
        let input = FixtureAVIF.encode([Self.halves], durations: [0], width: 16, height: 8, alpha: true)
        do {
            _ = try Halver.halve(input, options: HalvingOptions(maximumPixels: 127))
            Issue.record("128 pixels passed a limit of 127")
        } catch {
            #expect(error.code == .tooLarge, "\(error)")
        }
        for broken in [Array(input.prefix(input.count / 2)), Array(input.prefix(40)) + [UInt8](repeating: 0x33, count: 60)] {
            do {
                _ = try Halver.halve(broken)
                Issue.record("a broken AVIF was halved")
            } catch {
                #expect(error.code == .corruptImage, "\(error)")
            }
        }
    }
}
