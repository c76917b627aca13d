import HalfsizeCore
import ImageCodecs
import TestCorpus
import Testing

/// A BMP built byte by byte, so each header, depth and compression is tested with known pixels.
struct BMPFixture {
    var width: Int, height: Int
    var bits: Int
    var compression = 0
    var topDown = false
    /// 40 (info), 108 (V4) or 12 (core).
    var headerSize = 40
    var palette: [[UInt8]] = []   // RGB
    var masks: [UInt32] = []      // after a 40-byte header (bit fields) or inside a V4 header
    /// Rows top first, unpadded, already packed for `bits`; or the RLE stream.
    var rows: [[UInt8]] = []
    var rle: [UInt8] = []

    static func le16(_ value: Int) -> [UInt8] { [UInt8(value & 255), UInt8(value >> 8 & 255)] }
    static func le32(_ value: Int) -> [UInt8] { (0..<4).map { UInt8(truncatingIfNeeded: value >> ($0 * 8)) } }

    var bytes: [UInt8] {
        var header: [UInt8]
        if headerSize == 12 {
            header = Self.le32(12) + Self.le16(width) + Self.le16(height) + Self.le16(1) + Self.le16(bits)
        } else {
            header = Self.le32(headerSize) + Self.le32(width) + Self.le32(topDown ? -height : height) + Self.le16(1) + Self.le16(bits)
                + Self.le32(compression) + Self.le32(0) + Self.le32(2835) + Self.le32(2835) + Self.le32(palette.count) + Self.le32(0)
            if headerSize == 108 {
                header += (masks + [UInt32](repeating: 0, count: max(0, 4 - masks.count))).flatMap { Self.le32(Int($0)) }
                header += [UInt8](repeating: 0, count: 108 - header.count)
            }
        }
        let extraMasks: [UInt8] = headerSize == 40 ? masks.flatMap { Self.le32(Int($0)) } : []
        let table: [UInt8] = palette.flatMap { (entry: [UInt8]) -> [UInt8] in headerSize == 12 ? [entry[2], entry[1], entry[0]] : [entry[2], entry[1], entry[0], 0] }
        var data: [UInt8] = rle
        if rle.isEmpty {
            let stride = (width * bits + 31) / 32 * 4
            let ordered = topDown ? rows : rows.reversed()
            for row in ordered { data += row + [UInt8](repeating: 0, count: stride - row.count) }
        }
        let offset = 14 + header.count + extraMasks.count + table.count
        var file: [UInt8] = Array("BM".utf8)
        file += Self.le32(offset + data.count)
        file += Self.le32(0)
        file += Self.le32(offset)
        file += header
        file += extraMasks
        file += table
        file += data
        return file
    }
}

@Suite("BMP")
struct BMPFormsTests {
    func decode(_ fixture: BMPFixture) throws -> PixelBuffer { try ImageDecoder.decode(fixture.bytes).pixels }

    @Test func twentyFourBitsBottomUpWithPaddingAndCoreHeaders() throws {
        // 5 × 3 (15 bytes a row, padded to 16), BGR in the file.
        var rows: [[UInt8]] = []
        for y in 0..<3 {
            var row: [UInt8] = []
            for x in 0..<5 { row += [UInt8(x * 50), UInt8(y * 100), 7] }
            rows.append(row)
        }
        for headerSize in [40, 12] {
            let decoded = try decode(BMPFixture(width: 5, height: 3, bits: 24, headerSize: headerSize, rows: rows))
            #expect((decoded.width, decoded.height) == (5, 3))
            #expect(pixel(decoded, 4, 2) == [7, 200, 200, 255] && pixel(decoded, 0, 0) == [7, 0, 0, 255], "header \(headerSize)")
        }
        let halved = try Halver.halve(BMPFixture(width: 5, height: 3, bits: 24, rows: rows).bytes)
        #expect((halved.outputWidth, halved.outputHeight) == (3, 2) && halved.format == .png, "few colours: PNG")
    }

    @Test func paletteDepthsTopDown() throws {
        let palette: [[UInt8]] = [[0, 0, 0], [255, 0, 0], [0, 255, 0], [0, 0, 255]]
        let one = BMPFixture(width: 10, height: 2, bits: 1, topDown: true, palette: Array(palette.prefix(2)),
                             rows: [[0b1010_1010, 0b1100_0000], [0b0101_0101, 0b0000_0000]])
        let decodedOne = try decode(one)
        #expect(pixel(decodedOne, 0, 0) == [255, 0, 0, 255] && pixel(decodedOne, 1, 0) == [0, 0, 0, 255] && pixel(decodedOne, 8, 0) == [255, 0, 0, 255])
        let four = BMPFixture(width: 3, height: 1, bits: 4, palette: palette, rows: [[0x12, 0x30]])
        #expect(try decode(four).bytes == [255, 0, 0, 255, 0, 255, 0, 255, 0, 0, 255, 255])
        let eight = BMPFixture(width: 2, height: 2, bits: 8, palette: palette, rows: [[3, 2], [1, 0]])
        let decodedEight = try decode(eight)
        #expect(pixel(decodedEight, 0, 0) == [0, 0, 255, 255] && pixel(decodedEight, 1, 1) == [0, 0, 0, 255])
    }

    @Test func sixteenAndThirtyTwoBitsWithBitFieldsAndAlpha() throws {
        // 5-5-5 by default; 5-6-5 through bit fields: white and pure green.
        let five = BMPFixture(width: 2, height: 1, bits: 16, rows: [BMPFixture.le16(0x7FFF) + BMPFixture.le16(0x03E0)])
        #expect(try decode(five).bytes == [255, 255, 255, 255, 0, 255, 0, 255])
        let six = BMPFixture(width: 2, height: 1, bits: 16, compression: 3, masks: [0xF800, 0x07E0, 0x001F],
                             rows: [BMPFixture.le16(0xFFFF) + BMPFixture.le16(0x07E0)])
        #expect(try decode(six).bytes == [255, 255, 255, 255, 0, 255, 0, 255])
        // V4 header with an alpha mask: half-transparent red, opaque blue.
        let alpha = BMPFixture(width: 2, height: 2, bits: 32, compression: 3, headerSize: 108,
                               masks: [0x00FF_0000, 0x0000_FF00, 0x0000_00FF, 0xFF00_0000],
                               rows: [[0, 0, 255, 128, 255, 0, 0, 255], [0, 0, 255, 128, 255, 0, 0, 255]])
        let decoded = try decode(alpha)
        #expect(pixel(decoded, 0, 0) == [255, 0, 0, 128] && pixel(decoded, 1, 1) == [0, 0, 255, 255])
        let halved = try Halver.halve(alpha.bytes)
        #expect(halved.format == .png)
        let output = try ImageDecoder.decode(halved.bytes).pixels
        #expect(output.channels == 4 && abs(pixel(output, 0, 0)[3] - 192) <= 1, "alpha averaged: \(pixel(output, 0, 0))")
        // A 32-bit BI_RGB file's fourth byte is not alpha.
        let plain = BMPFixture(width: 1, height: 1, bits: 32, rows: [[10, 20, 30, 0]])
        #expect(try decode(plain).bytes == [30, 20, 10, 255])
    }

    @Test func runLengthEncodedPixels() throws {
        let palette: [[UInt8]] = [[0, 0, 0], [255, 0, 0], [0, 255, 0], [0, 0, 255]]
        // RLE8, 4 × 2 (bottom row first): run of 3 × index 1, end of line; literal 2,3,1 (padded), delta +1; end.
        let rle8 = BMPFixture(width: 4, height: 2, bits: 8, compression: 1, palette: palette,
                              rle: [3, 1, 0, 0, 0, 3, 2, 3, 1, 0, 0, 1])
        let decoded = try decode(rle8)
        #expect(pixel(decoded, 0, 1) == [255, 0, 0, 255] && pixel(decoded, 2, 1) == [255, 0, 0, 255])
        #expect(pixel(decoded, 3, 1)[3] == 0, "a pixel the runs skip is transparent")
        #expect(pixel(decoded, 0, 0) == [0, 255, 0, 255] && pixel(decoded, 1, 0) == [0, 0, 255, 255] && pixel(decoded, 2, 0) == [255, 0, 0, 255])
        // RLE4, 4 × 1: a run of 4 alternating 1, 2.
        let rle4 = BMPFixture(width: 4, height: 1, bits: 4, compression: 2, palette: palette, rle: [4, 0x12, 0, 1])
        #expect(try decode(rle4).bytes == [255, 0, 0, 255, 0, 255, 0, 255, 255, 0, 0, 255, 0, 255, 0, 255])
    }

    @Test func limitsAndBrokenFiles() throws {
        let big = BMPFixture(width: 100, height: 100, bits: 24, rows: [])
        do {
            _ = try Halver.halve(big.bytes, options: HalvingOptions(maximumPixels: 9_999))
            Issue.record("10,000 pixels passed a limit of 9,999")
        } catch {
            #expect(error.code == .tooLarge, "\(error)")
        }
        let good = BMPFixture(width: 4, height: 4, bits: 24, rows: (0..<4).map { _ in [UInt8](repeating: 9, count: 12) }).bytes
        let brokenMask = BMPFixture(width: 1, height: 1, bits: 16, compression: 3, masks: [0b1010, 0x0F0, 0xF00], rows: [[0, 0]]).bytes
        for broken in [Array(good.prefix(good.count - 10)), Array(good.prefix(20)), brokenMask,
                       BMPFixture(width: 2, height: 2, bits: 8, compression: 1, palette: [[0, 0, 0]], rle: [2, 0, 0]).bytes] {
            do {
                _ = try Halver.halve(broken)
                Issue.record("a broken BMP was halved")
            } catch {
                #expect(error.code == .corruptImage, "\(error)")
            }
        }
    }
}
