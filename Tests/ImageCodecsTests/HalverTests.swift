import Foundation
import HalfsizeCore
import ImageCodecs
import Synchronization
import TestCorpus
import Testing

/// Mean absolute difference per sample and PSNR between two same-sized 8-bit buffers.
func psnr(_ a: PixelBuffer, _ b: PixelBuffer) -> Double {
    precondition(a.bytes.count == b.bytes.count)
    var squared = 0.0
    for index in 0..<a.bytes.count {
        let difference = Double(a.bytes[index]) - Double(b.bytes[index])
        squared += difference * difference
    }
    let mse = squared / Double(a.bytes.count)
    return mse == 0 ? 99 : 10 * log10(255 * 255 / mse)
}

/// The same pixels as 8-bit RGBA, whatever their channels.
func rgba(_ image: PixelBuffer) -> PixelBuffer {
    let count = image.width * image.height, channels = image.channels
    let bytes = [UInt8](unsafeUninitializedCapacity: count * 4) { target, initialized in
        image.bytes.withUnsafeBufferPointer { source in
            for pixel in 0..<count {
                let from = pixel * channels, to = pixel * 4
                let colour = channels >= 3 ? (source[from], source[from + 1], source[from + 2]) : (source[from], source[from], source[from])
                (target[to], target[to + 1], target[to + 2]) = colour
                target[to + 3] = channels == 2 || channels == 4 ? source[from + channels - 1] : 255
            }
        }
        initialized = count * 4
    }
    return PixelBuffer(width: image.width, height: image.height, channels: 4, bytes: bytes)
}

/// A plain float 2×2 average of upright full-size pixels, as an independent reference.
func referenceHalf(_ full: PixelBuffer) -> PixelBuffer {
    let width = (full.width + 1) / 2, height = (full.height + 1) / 2, channels = full.channels
    var bytes = [UInt8](repeating: 0, count: width * height * channels)
    for y in 0..<height {
        for x in 0..<width {
            for channel in 0..<channels {
                var sum = 0.0, count = 0.0
                for dy in 0..<2 where y * 2 + dy < full.height {
                    for dx in 0..<2 where x * 2 + dx < full.width {
                        sum += Double(full.bytes[((y * 2 + dy) * full.width + x * 2 + dx) * channels + channel])
                        count += 1
                    }
                }
                bytes[(y * width + x) * channels + channel] = UInt8((sum / count).rounded())
            }
        }
    }
    return PixelBuffer(width: width, height: height, channels: channels, bytes: bytes)
}

@Suite("Halving the corpus")
struct CorpusTests {
    @Test func corpusIsPresent() {
        // Without it the parameterised tests below would run no cases at all.
        #expect(Corpus.files().count >= 19, "no corpus at \(Corpus.root.path): set HALFSIZE_TEST_CORPUS")
        #expect(Corpus.files("pitfalls").count >= 6, "no pitfalls at \(Corpus.root.path)/pitfalls")
    }

    @Test(arguments: Corpus.files() + Corpus.files("pitfalls"))
    func halvesToHalfTheUprightSize(_ file: URL) throws {
        let input = try Corpus.bytes(file)
        let original = try ImageDecoder.decode(input)
        let upright = original.upright
        let halved = try Halver.halve(input)
        #expect(halved.inputWidth == upright.width)
        #expect(halved.inputHeight == upright.height)
        #expect(halved.outputWidth == (upright.width + 1) / 2)
        #expect(halved.outputHeight == (upright.height + 1) / 2)
        #expect(halved.format == original.format)
        let output = try ImageDecoder.decode(halved.bytes)
        #expect(output.orientation == .up)
        #expect(output.pixels.width == halved.outputWidth)
        #expect(output.pixels.height == halved.outputHeight)
        // Compared as RGBA: a PNG may be written as palette or grey when that loses nothing.
        let quality = psnr(rgba(referenceHalf(upright)), rgba(output.pixels))
        #expect(quality > 30, "PSNR \(quality) dB against a plain 2×2 average")
    }

    @Test func exifOrientationIsAppliedAndDropped() throws {
        let input = try Corpus.bytes("pitfalls/exif_orient6.jpg")
        let halved = try Halver.halve(input)
        #expect((halved.outputWidth, halved.outputHeight) == (400, 266))  // stored 532×800, rotated 90°
        #expect(!containsMarker(halved.bytes, 0xE1), "the output carries no EXIF")
        let output = try ImageDecoder.decode(halved.bytes)
        let reference = referenceHalf(try ImageDecoder.decode(input).upright)
        #expect(psnr(reference, output.pixels) > 30)
    }

    @Test func cmykBecomesRGBWithTheRightColours() throws {
        let input = try Corpus.bytes("pitfalls/cmyk.jpg")
        let halved = try Halver.halve(input)
        let output = try ImageDecoder.decode(halved.bytes).pixels
        #expect(output.channels == 3)
        // Independent float conversion of the full-size inverted (Adobe) CMYK, averaged per channel.
        let full = try ImageDecoder.decode(input).pixels
        let mean = { (buffer: PixelBuffer, channel: Int) -> Double in
            stride(from: channel, to: buffer.bytes.count, by: buffer.channels).reduce(0.0) { $0 + Double(buffer.bytes[$1]) }
                / Double(buffer.width * buffer.height)
        }
        for channel in 0..<3 {
            #expect(abs(mean(full, channel) - mean(output, channel)) < 3, "channel \(channel)")
        }
        #expect(mean(output, 0) > 5 && mean(output, 0) < 250)  // not inverted to black or white
    }

    @Test func fittedHuffmanTablesAreSmallerWithTheSamePixels() throws {
        let input = try Corpus.bytes("j08_ladybird_4mp.jpg")
        let standard = try Halver.halve(input, options: HalvingOptions(optimizeHuffman: false))
        let fitted = try Halver.halve(input, options: HalvingOptions(optimizeHuffman: true))
        #expect(fitted.bytes.count < standard.bytes.count)
        #expect(try ImageDecoder.decode(fitted.bytes).pixels.bytes == ImageDecoder.decode(standard.bytes).pixels.bytes)
    }

    @Test func iccProfileIsKept() throws {
        let input = try Corpus.bytes("j17_donna_0.4mp.jpg")
        let halved = try Halver.halve(input)
        #expect(containsMarker(halved.bytes, 0xE2), "the ICC profile (APP2) is kept")
        #expect(!containsMarker(halved.bytes, 0xE1), "EXIF is dropped")
    }

    @Test func alphaIsKeptAndTransparentColourDoesNotBleed() throws {
        let halved = try Halver.halve(try Corpus.bytes("p06_arc_transparent_rgba.png"))
        let output = try ImageDecoder.decode(halved.bytes).pixels
        #expect(output.channels == 4)
        let alphas = stride(from: 3, to: output.bytes.count, by: 4).map { output.bytes[$0] }
        let (hasTransparent, hasVisible) = (alphas.contains(0), alphas.contains { $0 > 0 })
        #expect(hasTransparent && hasVisible)
        // Fully transparent pixels carry no colour.
        let colouredInvisible = (0..<(output.width * output.height)).filter { pixel in
            output.bytes[pixel * 4 + 3] == 0 && (output.bytes[pixel * 4] | output.bytes[pixel * 4 + 1] | output.bytes[pixel * 4 + 2]) != 0
        }
        #expect(colouredInvisible.isEmpty, "\(colouredInvisible.count) transparent pixels carry colour")
    }

    @Test func fewColoursBecomeAPaletteLosslessly() throws {
        // The transparent arc has 123 colours once halved: written as a palette with tRNS.
        let input = try Corpus.bytes("p06_arc_transparent_rgba.png")
        let halved = try Halver.halve(input)
        #expect(halved.bytes[25] == 3, "IHDR colour type")
        let expected = PNGFormsTests.weightedHalf(try ImageDecoder.decode(input).pixels)
        #expect(rgba(try ImageDecoder.decode(halved.bytes).pixels).bytes == rgba(expected).bytes)
    }

    @Test func opaqueAlphaIsDroppedAndGreyColourBecomesGrey() throws {
        // 2 × 2 blocks of one colour each (so halving keeps every value), 1024 colours in all.
        func blocks(_ colour: (Int, Int) -> [Int]) -> PNGFixture {
            let samples = (0..<64 * 64).flatMap { index in colour(index % 64 / 2, index / 64 / 2) }
            return PNGFixture(name: "blocks", width: 64, height: 64, bitDepth: 8, colourType: 6, samples: samples)
        }
        let opaqueColour = blocks { x, y in [x * 8, y * 8, (x + y) * 4, 255] }
        let halvedColour = try Halver.halve(opaqueColour.bytes)
        #expect(halvedColour.bytes[25] == 2, "RGBA with opaque alpha is written as RGB")
        let greyWithAlpha = blocks { x, y in [x * 8, x * 8, x * 8, 64 + y * 4] }
        let halvedGrey = try Halver.halve(greyWithAlpha.bytes)
        #expect(halvedGrey.bytes[25] == 4, "RGBA with red = green = blue is written as grey+alpha")
        for (fixture, halved) in [(opaqueColour, halvedColour), (greyWithAlpha, halvedGrey)] {
            let expected = PNGFormsTests.weightedHalf(try ImageDecoder.decode(fixture.bytes).pixels)
            #expect(rgba(try ImageDecoder.decode(halved.bytes).pixels).bytes == rgba(expected).bytes)
        }
    }

    @Test func greyAlphaStaysGreyAlpha() throws {
        let halved = try Halver.halve(try Corpus.bytes("p08_stripes_graya.png"))
        #expect(try ImageDecoder.decode(halved.bytes).pixels.channels == 2)
    }

    @Test(arguments: ["pitfalls/palette_4bit.png", "pitfalls/palette_trns.png"])
    func paletteImagesStaySmall(_ name: String) throws {
        let input = try Corpus.bytes(name)
        let halved = try Halver.halve(input)
        #expect(halved.bytes.count <= input.count, "\(halved.bytes.count) bytes out, \(input.count) in")
    }

    @Test func sixteenBitBecomesEightBit() throws {
        let halved = try Halver.halve(try Corpus.bytes("pitfalls/rgb16.png"))
        #expect(halved.bytes[24] == 8, "IHDR bit depth")
    }

    @Test func oneByOneStaysOneByOne() throws {
        let tiny = try Halver.halve(try Halver.halve(try Corpus.bytes("pitfalls/palette_trns.png")).bytes)
        var image = tiny
        while image.outputWidth > 1 || image.outputHeight > 1 { image = try Halver.halve(image.bytes) }
        let again = try Halver.halve(image.bytes)
        #expect((again.outputWidth, again.outputHeight) == (1, 1))
    }

    func containsMarker(_ jpeg: [UInt8], _ marker: UInt8) -> Bool {
        var index = 2
        while index + 4 <= jpeg.count, jpeg[index] == 0xFF {
            let code = jpeg[index + 1]
            if code == marker { return true }
            if code == 0xDA { return false }  // start of scan: headers are over
            index += 2 + Int(jpeg[index + 2]) << 8 + Int(jpeg[index + 3])
        }
        return false
    }
}

@Suite("Halving on many threads")
struct ConcurrencyTests {
    @Test func threadsGiveTheSameBytesAsOneThread() throws {
        let inputs = try (Corpus.files() + Corpus.files("pitfalls")).map { try Corpus.bytes($0) }
        let expected = inputs.map { try? Halver.halve($0).bytes }
        let results = Mutex<[[UInt8]?]>(Array(repeating: nil, count: inputs.count * 3))
        DispatchQueue.concurrentPerform(iterations: inputs.count * 3) { index in
            let bytes = try? Halver.halve(inputs[index % inputs.count]).bytes
            results.withLock { $0[index] = bytes }
        }
        let collected = results.withLock { $0 }
        for index in 0..<inputs.count * 3 {
            #expect(collected[index] == expected[index % inputs.count], "input \(index % inputs.count)")
        }
    }
}

@Suite("Broken inputs")
struct BrokenInputTests {
    func code(_ bytes: [UInt8]) -> ErrorCode? {
        do {
            _ = try Halver.halve(bytes)
            return nil
        } catch {
            return error.code
        }
    }

    /// Found by FuzzHalve (minimized): a JPEG with no Huffman tables fails after the encoder's
    /// buffer has grown; the encoder used to free libjpeg's first buffer a second time.
    @Test func jpegFailingAfterTheOutputGrewIsCorruptNotADoubleFree() throws {
        let input = try #require(Data(base64Encoded: """
            /9j/2wBDAAYEBQYFAQAAAAAAAAAIChAKCgkJChQODwwQFxQYGBcUFhYaHSUfGhsjHBYWICwgIyYnKSopGR8tMC0oMCUoKSj/2wBDAQcHBwoIChMKChMoGhYaKCgo\
            KCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKFVuc2FmZU11KCgoKCgoKCgoKCj/wAARCARWBQIDASIAAhEBAxEA/9oADAMBAAIRAxE/6/7/Aw==
            """))
        #expect(code(Array(input)) == .corruptImage)
    }

    @Test func truncatedJPEG() throws {
        let input = try Corpus.bytes("j16_building_0.5mp.jpg")
        #expect(code(Array(input.prefix(input.count / 2))) == .corruptImage)
        #expect(code(Array(input.prefix(200))) == .corruptImage)
    }

    @Test func truncatedPNG() throws {
        let input = try Corpus.bytes("p03_photo_fruits_512.png")
        #expect(code(Array(input.prefix(input.count / 2))) == .corruptImage)
        #expect(code(Array(input.prefix(40))) == .corruptImage)
    }

    @Test func emptyAndRandomBytes() {
        #expect(code([]) == .unsupportedFormat)
        var generator = SystemRandomNumberGenerator()
        let noise = (0..<4096).map { _ in UInt8.random(in: 0...255, using: &generator) }
        #expect(code([0x42] + noise) == .unsupportedFormat)
        // JPEG and PNG signatures followed by noise are corrupt images, not crashes.
        #expect(code([0xFF, 0xD8, 0xFF] + noise) == .corruptImage)
        #expect(code([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] + noise) == .corruptImage)
    }

    @Test func hugeDimensionsAreRefusedFromTheHeader() {
        let header = PNGFixture.bigEndian(100_000) + PNGFixture.bigEndian(100_000) + [8, 2, 0, 0, 0]
        #expect(code(PNGFixture.signature + PNGFixture.chunk("IHDR", header)) == .tooLarge)
    }

    @Test func hugeJPEGDimensionsAreRefusedFromTheHeader() throws {
        var input = try Corpus.bytes("j16_building_0.5mp.jpg")
        // Rewrite the frame header's height and width (SOF0/SOF2: FF C0/C2, length, precision, H, W).
        let sof = try #require(input.indices.dropLast(9).first { input[$0] == 0xFF && (input[$0 + 1] == 0xC0 || input[$0 + 1] == 0xC2) })
        input.replaceSubrange(sof + 5..<sof + 9, with: [0xEA, 0x60, 0xEA, 0x60])  // 60000 x 60000
        #expect(code(input) == .tooLarge)
    }

    @Test func progressiveScansAreBounded() throws {
        let input = try Corpus.bytes("j02_seeding_16mp.jpg")  // progressive, about 10 scans
        do {
            _ = try Halver.halve(input, options: HalvingOptions(maximumScans: 3))
            Issue.record("a progressive JPEG with more scans than the limit was accepted")
        } catch {
            #expect(error.code == .corruptImage)
            #expect(error.message.contains("more than 3 progressive scans"))
        }
    }

    @Test func otherFormatsAreNamed() throws {
        for (bytes, name) in [(Array("<svg xmlns=\"http://www.w3.org/2000/svg\"/>".utf8), "SVG"),
                              ([0, 0, 0, 24] + Array("ftypheic".utf8), "HEIF")] {
            do {
                _ = try Halver.halve(bytes)
                Issue.record("\(name) was accepted")
            } catch {
                #expect(error.code == .unsupportedFormat)
                #expect(error.message.contains(name))
            }
        }
    }
}
