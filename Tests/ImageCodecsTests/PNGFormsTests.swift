import HalfsizeCore
import ImageCodecs
import Testing

/// A PNG built byte by byte (stored deflate blocks, no filter), so every colour type and bit
/// depth can be tested with pixel values known in advance.
struct PNGFixture: CustomTestStringConvertible {
    var name: String
    var width: Int, height: Int
    var bitDepth: UInt8, colourType: UInt8
    /// Samples per pixel, in the file's own depth, row after row.
    var samples: [Int]
    var palette: [UInt8] = []
    var transparency: [UInt8] = []
    /// What each pixel should decode to, as 8-bit grey, grey+alpha, RGB or RGBA.
    var expected: [UInt8] = []
    var expectedChannels = 0

    var testDescription: String { name }

    var bytes: [UInt8] {
        let channels = [0: 1, 2: 3, 3: 1, 4: 2, 6: 4][Int(colourType)]!
        let samplesPerRow = width * channels
        var raw: [UInt8] = []
        for row in 0..<height {
            raw.append(0)  // filter: none
            let rowSamples = samples[row * samplesPerRow..<(row + 1) * samplesPerRow]
            if bitDepth == 16 {
                for sample in rowSamples { raw += [UInt8(sample >> 8), UInt8(sample & 255)] }
            } else {
                var packed = [UInt8](repeating: 0, count: (samplesPerRow * Int(bitDepth) + 7) / 8)
                for (index, sample) in rowSamples.enumerated() {
                    let bit = index * Int(bitDepth)
                    packed[bit / 8] |= UInt8(sample << (8 - Int(bitDepth) - bit % 8))
                }
                raw += packed
            }
        }
        var png = Self.signature
        png += Self.chunk("IHDR", Self.bigEndian(UInt32(width)) + Self.bigEndian(UInt32(height)) + [bitDepth, colourType, 0, 0, 0])
        if !palette.isEmpty { png += Self.chunk("PLTE", palette) }
        if !transparency.isEmpty { png += Self.chunk("tRNS", transparency) }
        png += Self.chunk("IDAT", zlibStored(raw))
        png += Self.chunk("IEND", [])
        return png
    }

    static let signature: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]

    /// A chunk: length, type, data and CRC.
    static func chunk(_ type: String, _ data: [UInt8]) -> [UInt8] {
        let body = Array(type.utf8) + data
        return bigEndian(UInt32(data.count)) + body + bigEndian(crc32(body))
    }

    private func zlibStored(_ data: [UInt8]) -> [UInt8] {
        precondition(data.count < 65536)
        let length = UInt16(data.count)
        var a: UInt32 = 1, b: UInt32 = 0
        for byte in data { a = (a + UInt32(byte)) % 65521; b = (b + a) % 65521 }
        return [0x78, 0x01, 0x01, UInt8(length & 255), UInt8(length >> 8), UInt8(~length & 255), UInt8(~length >> 8)]
            + data + Self.bigEndian(b << 16 | a)
    }

    static func bigEndian(_ value: UInt32) -> [UInt8] {
        [UInt8(value >> 24), UInt8(value >> 16 & 255), UInt8(value >> 8 & 255), UInt8(value & 255)]
    }

    static func crc32(_ bytes: [UInt8]) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in bytes {
            crc ^= UInt32(byte)
            for _ in 0..<8 { crc = crc & 1 == 1 ? 0xEDB8_8320 ^ (crc >> 1) : crc >> 1 }
        }
        return ~crc
    }

    /// 16-bit to 8-bit as libpng's png_set_scale_16 does it: v × 255 / 65535, rounded.
    static func scaled(_ value: Int) -> UInt8 { UInt8((value * 255 + 32767) / 65535) }

    /// Every colour type at every depth PNG allows, 4 × 2 pixels each (so each half is 2 × 1).
    static let all: [PNGFixture] = [
        PNGFixture(name: "grey 1-bit", width: 4, height: 2, bitDepth: 1, colourType: 0, samples: [0, 1, 1, 0, 1, 1, 0, 0],
                   expected: [0, 255, 255, 0, 255, 255, 0, 0], expectedChannels: 1),
        PNGFixture(name: "grey 2-bit", width: 4, height: 2, bitDepth: 2, colourType: 0, samples: [0, 1, 2, 3, 3, 2, 1, 0],
                   expected: [0, 85, 170, 255, 255, 170, 85, 0], expectedChannels: 1),
        PNGFixture(name: "grey 4-bit", width: 4, height: 2, bitDepth: 4, colourType: 0, samples: [0, 5, 10, 15, 15, 10, 5, 0],
                   expected: [0, 85, 170, 255, 255, 170, 85, 0], expectedChannels: 1),
        PNGFixture(name: "grey 8-bit with a transparent key", width: 4, height: 2, bitDepth: 8, colourType: 0,
                   samples: [7, 100, 7, 200, 100, 7, 200, 7], transparency: [0, 7],
                   expected: [7, 0, 100, 255, 7, 0, 200, 255, 100, 255, 7, 0, 200, 255, 7, 0], expectedChannels: 2),
        PNGFixture(name: "grey 16-bit", width: 4, height: 2, bitDepth: 16, colourType: 0,
                   samples: [0, 0x1234, 0x8080, 0xFFFF, 0xFFFF, 0x8080, 0x1234, 0],
                   expected: [0, scaled(0x1234), scaled(0x8080), 255, 255, scaled(0x8080), scaled(0x1234), 0], expectedChannels: 1),
        PNGFixture(name: "RGB 16-bit", width: 4, height: 2, bitDepth: 16, colourType: 2,
                   samples: Array(repeating: [0xFFFF, 0x8080, 0x0101], count: 8).flatMap { $0 },
                   expected: Array(repeating: [255, scaled(0x8080), 1], count: 8).flatMap { $0 }, expectedChannels: 3),
        PNGFixture(name: "RGB 8-bit with a transparent key", width: 4, height: 2, bitDepth: 8, colourType: 2,
                   samples: [1, 2, 3, 9, 9, 9, 1, 2, 3, 9, 9, 9, 9, 9, 9, 1, 2, 3, 9, 9, 9, 1, 2, 3], transparency: [0, 1, 0, 2, 0, 3],
                   expected: [1, 2, 3, 0, 9, 9, 9, 255, 1, 2, 3, 0, 9, 9, 9, 255, 9, 9, 9, 255, 1, 2, 3, 0, 9, 9, 9, 255, 1, 2, 3, 0],
                   expectedChannels: 4),
        PNGFixture(name: "palette 1-bit", width: 4, height: 2, bitDepth: 1, colourType: 3, samples: [0, 1, 0, 1, 1, 0, 1, 0],
                   palette: [255, 0, 0, 0, 0, 255],
                   expected: [255, 0, 0, 0, 0, 255, 255, 0, 0, 0, 0, 255, 0, 0, 255, 255, 0, 0, 0, 0, 255, 255, 0, 0], expectedChannels: 3),
        PNGFixture(name: "palette 2-bit with alpha", width: 4, height: 2, bitDepth: 2, colourType: 3, samples: [0, 1, 2, 3, 3, 2, 1, 0],
                   palette: [10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 110, 120], transparency: [0, 128],
                   expected: [10, 20, 30, 0, 40, 50, 60, 128, 70, 80, 90, 255, 100, 110, 120, 255,
                              100, 110, 120, 255, 70, 80, 90, 255, 40, 50, 60, 128, 10, 20, 30, 0], expectedChannels: 4),
        PNGFixture(name: "palette 4-bit", width: 4, height: 2, bitDepth: 4, colourType: 3, samples: [15, 0, 15, 0, 0, 15, 0, 15],
                   palette: Array(repeating: [0, 0, 0], count: 15).flatMap { $0 } + [200, 100, 50],
                   expected: [200, 100, 50, 0, 0, 0, 200, 100, 50, 0, 0, 0, 0, 0, 0, 200, 100, 50, 0, 0, 0, 200, 100, 50], expectedChannels: 3),
        PNGFixture(name: "palette 8-bit", width: 4, height: 2, bitDepth: 8, colourType: 3, samples: [200, 201, 200, 201, 201, 200, 201, 200],
                   palette: Array(repeating: [0, 0, 0], count: 200).flatMap { $0 } + [1, 2, 3, 4, 5, 6],
                   expected: [1, 2, 3, 4, 5, 6, 1, 2, 3, 4, 5, 6, 4, 5, 6, 1, 2, 3, 4, 5, 6, 1, 2, 3], expectedChannels: 3),
        PNGFixture(name: "grey+alpha 8-bit", width: 4, height: 2, bitDepth: 8, colourType: 4,
                   samples: [50, 255, 250, 0, 50, 255, 250, 0, 50, 255, 250, 0, 50, 255, 250, 0],
                   expected: [50, 255, 250, 0, 50, 255, 250, 0, 50, 255, 250, 0, 50, 255, 250, 0], expectedChannels: 2),
        PNGFixture(name: "grey+alpha 16-bit", width: 4, height: 2, bitDepth: 16, colourType: 4,
                   samples: Array(repeating: [0x8080, 0xFFFF], count: 8).flatMap { $0 },
                   expected: Array(repeating: [scaled(0x8080), 255], count: 8).flatMap { $0 }, expectedChannels: 2),
        PNGFixture(name: "RGBA 8-bit", width: 4, height: 2, bitDepth: 8, colourType: 6,
                   samples: Array(repeating: [10, 20, 30, 255, 250, 250, 250, 0], count: 4).flatMap { $0 },
                   expected: Array(repeating: [10, 20, 30, 255, 250, 250, 250, 0], count: 4).flatMap { $0 }, expectedChannels: 4),
        PNGFixture(name: "RGBA 16-bit", width: 4, height: 2, bitDepth: 16, colourType: 6,
                   samples: Array(repeating: [0xFFFF, 0, 0x8080, 0x8080], count: 8).flatMap { $0 },
                   expected: Array(repeating: [255, 0, scaled(0x8080), scaled(0x8080)], count: 8).flatMap { $0 }, expectedChannels: 4),
    ]
}

@Suite("Every PNG colour type and depth")
struct PNGFormsTests {
    @Test(arguments: PNGFixture.all)
    func decodesAndHalves(_ fixture: PNGFixture) throws {
        let decoded = try ImageDecoder.decode(fixture.bytes)
        #expect(decoded.pixels.channels == fixture.expectedChannels)
        #expect(decoded.pixels.bytes == fixture.expected)

        let halved = try Halver.halve(fixture.bytes)
        #expect((halved.outputWidth, halved.outputHeight) == (2, 1))
        let output = try ImageDecoder.decode(halved.bytes).pixels
        // Each output pixel is the alpha-weighted 2×2 average of the decoded input (compared as
        // RGBA: with few colours the output may be a palette image).
        #expect(rgba(output).bytes == rgba(Self.weightedHalf(decoded.pixels)).bytes)
    }

    /// An independent 2×2 average: colour weighted by alpha, a transparent result stored as 0.
    static func weightedHalf(_ image: PixelBuffer) -> PixelBuffer {
        let channels = image.channels, hasAlpha = channels == 2 || channels == 4
        let width = (image.width + 1) / 2, height = (image.height + 1) / 2
        var bytes: [UInt8] = []
        for y in 0..<height {
            for x in 0..<width {
                var pixels: [[Int]] = []
                for (dx, dy) in [(0, 0), (1, 0), (0, 1), (1, 1)] {
                    let row = min(y * 2 + dy, image.height - 1), column = min(x * 2 + dx, image.width - 1)
                    let start = (row * image.width + column) * channels
                    pixels.append(image.bytes[start..<start + channels].map { Int($0) })
                }
                let weights = hasAlpha ? pixels.map { $0[channels - 1] } : [1, 1, 1, 1]
                let alpha = hasAlpha ? (weights.reduce(0, +) + 2) / 4 : 255
                for channel in 0..<channels {
                    if hasAlpha && channel == channels - 1 {
                        bytes.append(UInt8(alpha))
                    } else if alpha == 0 {
                        bytes.append(0)
                    } else {
                        let total = weights.reduce(0, +)
                        var sum = 0
                        for (pixel, weight) in zip(pixels, weights) { sum += pixel[channel] * weight }
                        bytes.append(UInt8((sum + total / 2) / total))
                    }
                }
            }
        }
        return PixelBuffer(width: width, height: height, channels: channels, bytes: bytes)
    }
}
