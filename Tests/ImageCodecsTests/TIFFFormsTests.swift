import HalfsizeCore
import ImageCodecs
import TestCorpus
import Testing

/// TIFF through the halver, on files libtiff's own encoder wrote with known pixels.
@Suite("TIFF")
struct TIFFFormsTests {

    /// A photographic gradient: thousands of colours, so the output is JPEG.
    static func gradient(width: Int, height: Int) -> [UInt8] {
        var bytes: [UInt8] = []
        for y in 0..<height {
            for x in 0..<width { bytes += [UInt8(x * 255 / width), UInt8(y * 255 / height), UInt8((x + y) % 256)] }
        }
        return bytes
    }

    @Test(arguments: [(FixtureTIFF.Compression.none, false), (.lzw, false), (.deflate, true), (.packBits, true)])
    func rgbStripsAndTilesDecodeExactlyAndBecomeJPEG(compression: FixtureTIFF.Compression, tiled: Bool) throws {
        let (width, height) = (101, 61)
        let rgb = Self.gradient(width: width, height: height)
        let input = FixtureTIFF.encode(rgb, width: width, height: height, channels: 3, photometric: .rgb, compression: compression, tiled: tiled)
        let decoded = try ImageDecoder.decode(input).pixels
        #expect(decoded.channels == 4 && (decoded.width, decoded.height) == (width, height))
        #expect(pixel(decoded, 5, 7) == rgb[(7 * width + 5) * 3..<(7 * width + 5) * 3 + 3].map(Int.init) + [255])
        let halved = try Halver.halve(input)
        #expect(halved.format == .jpeg && (halved.outputWidth, halved.outputHeight) == (51, 31))
        let output = try ImageDecoder.decode(halved.bytes).pixels
        #expect(nearlyEqual(pixel(output, 9, 5), Array(pixel(decoded, 18, 10).prefix(3)), within: 12))
    }

    @Test func unassociatedAlphaIsKeptAndTheOutputIsPNG() throws {
        // 4 × 2: opaque red with transparent green beside it, then half-transparent blue.
        let rgba: [UInt8] = [255, 0, 0, 255, 0, 255, 0, 0, 0, 0, 255, 128, 0, 0, 255, 128,
                             255, 0, 0, 255, 0, 255, 0, 0, 0, 0, 255, 128, 0, 0, 255, 128]
        let input = FixtureTIFF.encode(rgba, width: 4, height: 2, channels: 4, photometric: .rgb, compression: .lzw, alpha: 2)
        let decoded = try ImageDecoder.decode(input).pixels
        #expect(pixel(decoded, 0, 0) == [255, 0, 0, 255] && pixel(decoded, 1, 0)[3] == 0)
        #expect(nearlyEqual(pixel(decoded, 2, 1), [0, 0, 255, 128], within: 1))
        let halved = try Halver.halve(input)
        #expect(halved.format == .png && (halved.outputWidth, halved.outputHeight) == (2, 1))
        let output = try ImageDecoder.decode(halved.bytes).pixels
        #expect(output.channels == 4 || output.channels == 2 || output.channels == 1)
        let upright = try ImageDecoder.decode(halved.bytes).pixels
        #expect(nearlyEqual(pixel(upright, 0, 0).suffix(1).map { $0 }, [128], within: 1), "alpha is the average")
    }

    @Test func sixteenBitGreyIsScaledAndFewLevelsStayPNG() throws {
        let levels: [UInt16] = [0, 65535, 32768, 4096]
        let samples = (0..<8 * 4).map { levels[($0 % 8) / 2] }
        let input = FixtureTIFF.encode(samples16: samples, width: 8, height: 4, channels: 1, photometric: .grey, compression: .deflate)
        let decoded = try ImageDecoder.decode(input).pixels
        #expect(pixel(decoded, 0, 0) == [0, 0, 0, 255] && pixel(decoded, 2, 0) == [255, 255, 255, 255])
        #expect(nearlyEqual(pixel(decoded, 4, 0), [128, 128, 128, 255], within: 1))
        let halved = try Halver.halve(input)
        #expect(halved.format == .png && (halved.outputWidth, halved.outputHeight) == (4, 2))
    }

    @Test func cmykAndJPEGCompressedPagesDecode() throws {
        let cmyk = [UInt8](repeating: 0, count: 16 * 16 * 4).enumerated().map { [0, 255, 255, 0][$0.offset % 4] as UInt8 }  // magenta + yellow: red
        let fromCMYK = try ImageDecoder.decode(FixtureTIFF.encode(cmyk, width: 16, height: 16, channels: 4, photometric: .cmyk)).pixels
        #expect(nearlyEqual(pixel(fromCMYK, 3, 3), [255, 0, 0, 255], within: 2))
        let rgb = Self.gradient(width: 48, height: 32)
        let jpegCompressed = FixtureTIFF.encode(rgb, width: 48, height: 32, channels: 3, photometric: .ycbcr, compression: .jpeg)
        let decoded = try ImageDecoder.decode(jpegCompressed).pixels
        #expect(nearlyEqual(pixel(decoded, 20, 10), rgb[(10 * 48 + 20) * 3..<(10 * 48 + 20) * 3 + 3].map(Int.init) + [255], within: 16))
        #expect(try Halver.halve(jpegCompressed).format == .jpeg)
    }

    @Test func theOrientationTagIsAppliedAndOnlyTheFirstPageIsRead() throws {
        // Stored 40 × 20: left half red, right half blue; orientation 6 turns it a quarter clockwise.
        var rgb: [UInt8] = []
        for _ in 0..<20 { for x in 0..<40 { rgb += x < 20 ? [255, 0, 0] : [0, 0, 255] } }
        let input = FixtureTIFF.encode(rgb, width: 40, height: 20, channels: 3, photometric: .rgb, orientation: 6, pages: 3)
        let halved = try Halver.halve(input)
        #expect((halved.inputWidth, halved.inputHeight) == (20, 40) && (halved.outputWidth, halved.outputHeight) == (10, 20))
        let output = try ImageDecoder.decode(halved.bytes).pixels
        #expect(nearlyEqual(Array(pixel(output, 5, 2).prefix(3)), [255, 0, 0], within: 2) && nearlyEqual(Array(pixel(output, 5, 17).prefix(3)), [0, 0, 255], within: 2))
    }

    @Test func limitsAreCheckedBeforeDecodingAndBrokenFilesAreCorrupt() throws {
        let input = FixtureTIFF.encode(Self.gradient(width: 30, height: 20), width: 30, height: 20, channels: 3, photometric: .rgb, compression: .lzw)
        do {
            _ = try Halver.halve(input, options: HalvingOptions(maximumPixels: 599))
            Issue.record("600 pixels passed a limit of 599")
        } catch {
            #expect(error.code == .tooLarge && error.message.contains("30 x 20"), "\(error)")
        }
        for broken in [Array(input.prefix(input.count / 3)), Array(input.prefix(8)) + [UInt8](repeating: 0xA5, count: 64)] {
            do {
                _ = try Halver.halve(broken)
                Issue.record("a broken TIFF was halved")
            } catch {
                #expect(error.code == .corruptImage, "\(error)")
            }
        }
    }
}
