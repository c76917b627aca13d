import CImageFixtures
import HalfsizeCore
import ImageCodecs
import TestCorpus
import Testing

/// A JPEG form the corpus may lack: colour space, luma sampling (chroma is 1 × 1), progression.
struct JPEGForm: CustomTestStringConvertible, Sendable {
    var name: String
    var colourSpace: Int32 = Int32(FIXTURE_YCBCR)
    var sampling: (horizontal: Int32, vertical: Int32) = (2, 2)
    var progressive = false

    var testDescription: String { name }
    var channels: Int { colourSpace == Int32(FIXTURE_GREY) ? 1 : 3 }

    func encode(_ pixels: [UInt8], width: Int, height: Int) -> [UInt8] {
        FixtureJPEG.encode(pixels, width: width, height: height, colourSpace: colourSpace, sampling: sampling, progressive: progressive)
    }

    static let all: [JPEGForm] = [
        JPEGForm(name: "4:4:4", sampling: (1, 1)),
        JPEGForm(name: "4:2:2", sampling: (2, 1)),
        JPEGForm(name: "4:2:0", sampling: (2, 2)),
        JPEGForm(name: "4:4:0", sampling: (1, 2)),
        JPEGForm(name: "4:1:1", sampling: (4, 1)),
        JPEGForm(name: "grey", colourSpace: Int32(FIXTURE_GREY), sampling: (1, 1)),
        JPEGForm(name: "4:4:4 progressive", sampling: (1, 1), progressive: true),
        JPEGForm(name: "4:2:2 progressive", sampling: (2, 1), progressive: true),
        JPEGForm(name: "4:2:0 progressive", sampling: (2, 2), progressive: true),
        JPEGForm(name: "grey progressive", colourSpace: Int32(FIXTURE_GREY), sampling: (1, 1), progressive: true),
    ]
}

@Suite("Every JPEG form")
struct JPEGFormsTests {
    /// Smooth gradients, so a halving that is right scores high against a plain 2×2 average.
    static func testCard(width: Int, height: Int, channels: Int) -> [UInt8] {
        var pixels: [UInt8] = []
        for y in 0..<height {
            for x in 0..<width {
                let red = x * 255 / (width - 1), green = y * 255 / (height - 1), blue = (x + y) * 255 / (width + height - 2)
                pixels += channels == 1 ? [UInt8((red + green) / 2)] : [UInt8(red), UInt8(green), UInt8(blue)]
            }
        }
        return pixels
    }

    @Test(arguments: JPEGForm.all)
    func halvesToTheAverage(_ form: JPEGForm) throws {
        // Odd sides that are not a multiple of any MCU.
        let width = 75, height = 45
        let jpeg = form.encode(Self.testCard(width: width, height: height, channels: form.channels), width: width, height: height)
        let full = try ImageDecoder.decode(jpeg).pixels
        #expect((full.width, full.height, full.channels) == (width, height, form.channels))

        let halved = try Halver.halve(jpeg)
        #expect((halved.outputWidth, halved.outputHeight) == (38, 23))
        let output = try ImageDecoder.decode(halved.bytes).pixels
        #expect(output.channels == form.channels)
        let quality = psnr(referenceHalf(full), output)
        #expect(quality > 35, "PSNR \(quality) dB against a plain 2×2 average")
    }

    @Test func ycckBecomesTheRightRGB() throws {
        // Adobe's convention, which libjpeg follows for YCCK: samples are 255 minus the ink.
        let inks = (cyan: 0, magenta: 100, yellow: 200, black: 50)
        let stored = [255 - inks.cyan, 255 - inks.magenta, 255 - inks.yellow, 255 - inks.black].map { UInt8($0) }
        let width = 32, height = 16
        let jpeg = JPEGForm(name: "YCCK", colourSpace: Int32(FIXTURE_YCCK), sampling: (2, 2))
            .encode(Array(repeating: stored, count: width * height).flatMap { $0 }, width: width, height: height)
        let output = try ImageDecoder.decode(try Halver.halve(jpeg).bytes).pixels
        #expect(output.channels == 3)
        let light = 255 - inks.black
        let expected = [(255 - inks.cyan) * light / 255, (255 - inks.magenta) * light / 255, (255 - inks.yellow) * light / 255]
        for channel in 0..<3 {
            let values = stride(from: channel, to: output.bytes.count, by: 3).map { Int(output.bytes[$0]) }
            let mean = values.reduce(0, +) / values.count
            #expect(abs(mean - expected[channel]) <= 4, "channel \(channel): \(mean), expected \(expected[channel])")
        }
    }
}
