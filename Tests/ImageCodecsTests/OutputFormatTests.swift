import HalfsizeCore
import ImageCodecs
import TestCorpus
import Testing

/// HALFSIZE_OUTPUT_FORMAT: one format for every output.
@Suite("Forced output format")
struct OutputFormatTests {
    @Test(arguments: [OutputFormat.jpeg, .png, .webp])
    func everyInputComesOutInTheForcedFormat(format: OutputFormat) throws {
        let inputs = [try Corpus.bytes("j20_squirrel_0.2mp.jpg"), try Corpus.bytes("p03_photo_fruits_512.png"),
                      FixtureWebP.encode([UInt8](repeating: 90, count: 30 * 20 * 3), width: 30, height: 20, channels: 3, lossless: false)]
        for input in inputs {
            let original = try ImageDecoder.decode(input).upright
            let halved = try Halver.halve(input, options: HalvingOptions(outputFormat: format))
            #expect(halved.format.rawValue == format.rawValue && ImageFormat.detect(halved.bytes).rawValue == format.rawValue)
            #expect((halved.outputWidth, halved.outputHeight) == (Halver.halvedLength(original.width), Halver.halvedLength(original.height)))
        }
    }

    @Test func transparencyIsLaidOverWhiteInJPEGAndKeptInPNG() throws {
        var rgba: [UInt8] = []
        for _ in 0..<16 { for x in 0..<16 { rgba += x < 8 ? [0, 0, 0, 0] : [200, 0, 0, 255] } }
        let input = FixtureWebP.encode(rgba, width: 16, height: 16, channels: 4, lossless: true)
        let jpeg = try ImageDecoder.decode(try Halver.halve(input, options: HalvingOptions(outputFormat: .jpeg)).bytes).pixels
        #expect(jpeg.channels == 3 && pixel(jpeg, 1, 1).allSatisfy { $0 > 245 }, "transparent became white: \(pixel(jpeg, 1, 1))")
        let png = try ImageDecoder.decode(try Halver.halve(input, options: HalvingOptions(outputFormat: .png)).bytes).pixels
        #expect(pixel(png, 1, 1).last == 0 && pixel(png, 6, 1) == [200, 0, 0, 255])
    }
}
