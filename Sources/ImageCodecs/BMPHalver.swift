import HalfsizeCore

/// A reader of our own for Windows bitmaps (no Debian library reads BMP alone, and the format is
/// small): core, info and V2–V5 headers; 1, 4 and 8 bits with a colour table, 16, 24 and 32 bits
/// direct (5-5-5 by default, or bit fields, with alpha when a mask says so); uncompressed, RLE8 and
/// RLE4; bottom-up or top-down. Every read is bounds-checked (this target keeps Swift's checks)
/// and the size is checked before pixel memory exists. Fuzzed through FuzzHalve.
struct BMPDecoder {
    let bytes: [UInt8]
    let width: Int, height: Int
    let topDown: Bool
    let bitsPerPixel: Int
    let compression: Int
    let dataOffset: Int
    /// RGBA entries.
    let colours: [[UInt8]]
    /// Red, green, blue, alpha masks for 16- and 32-bit pixels.
    let masks: [UInt32]

    static let rgb = 0, rle8 = 1, rle4 = 2, bitFields = 3, alphaBitFields = 6

    init(_ bytes: [UInt8], maximumPixels: Int) throws(HalfsizeError) {
        self.bytes = bytes
        guard bytes.count >= 26, bytes[0] == 0x42, bytes[1] == 0x4D else { throw Self.corrupt("the file header is cut short") }
        dataOffset = Int(try Self.u32(bytes, 10))
        let headerSize = Int(try Self.u32(bytes, 14))
        var width: Int, height: Int, bits: Int, compression = Self.rgb, coloursUsed = 0
        let core = headerSize == 12
        if core {
            width = Int(try Self.u16(bytes, 18))
            height = Int(try Self.u16(bytes, 20))
            bits = Int(try Self.u16(bytes, 24))
        } else {
            guard [40, 52, 56, 64, 108, 124].contains(headerSize) else { throw Self.corrupt("an unknown header size \(headerSize)") }
            width = Int(Int32(bitPattern: try Self.u32(bytes, 18)))
            height = Int(Int32(bitPattern: try Self.u32(bytes, 22)))
            bits = Int(try Self.u16(bytes, 28))
            compression = Int(try Self.u32(bytes, 30))
            coloursUsed = Int(try Self.u32(bytes, 46))
        }
        topDown = height < 0
        height = abs(height)
        guard width > 0, height > 0 else { throw Self.corrupt("the image has no size (\(width) x \(height))") }
        guard width * height <= maximumPixels else {
            throw HalfsizeError(.tooLarge, "the BMP image is too large: \(width) x \(height) pixels, more than the \(maximumPixels) allowed")
        }
        guard [1, 4, 8, 16, 24, 32].contains(bits) else { throw Self.corrupt("\(bits) bits a pixel") }
        switch compression {
        case Self.rgb: break
        case Self.rle8 where bits == 8, Self.rle4 where bits == 4: break
        case Self.bitFields where bits == 16 || bits == 32, Self.alphaBitFields where bits == 16 || bits == 32: break
        case 4, 5: throw Self.corrupt("a BMP holding a JPEG or PNG is not read")
        default: throw Self.corrupt("compression \(compression) with \(bits) bits a pixel")
        }
        // Masks: inside a V2+ header, or after a 40-byte one.
        var masks: [UInt32] = bits == 16 ? [0x7C00, 0x03E0, 0x001F, 0] : [0x00FF_0000, 0x0000_FF00, 0x0000_00FF, 0]
        if compression == Self.bitFields || compression == Self.alphaBitFields {
            let count = headerSize > 40 || compression == Self.alphaBitFields ? 4 : 3
            masks = try (0..<count).map { index throws(HalfsizeError) in try Self.u32(bytes, 54 + index * 4) } + (count == 3 ? [0] : [])
        } else if headerSize >= 56 && bits == 32 {
            // BI_RGB with a V3+ header: the alpha mask in the header says whether byte 4 is alpha.
            masks[3] = try Self.u32(bytes, 66)
        }
        for mask in masks where mask != 0 {
            let field = mask >> mask.trailingZeroBitCount
            guard field & (field &+ 1) == 0 else { throw Self.corrupt("a colour mask that is not one run of bits") }
        }
        var colours: [[UInt8]] = []
        if bits <= 8 {
            let entries = coloursUsed > 0 ? min(coloursUsed, 1 << bits) : 1 << bits
            let entrySize = core ? 3 : 4
            var offset = 14 + headerSize + (compression == Self.bitFields && headerSize == 40 ? 12 : 0)
            for _ in 0..<entries {
                guard offset + 3 <= bytes.count else { break }
                colours.append([bytes[offset + 2], bytes[offset + 1], bytes[offset], 255])
                offset += entrySize
            }
            guard !colours.isEmpty else { throw Self.corrupt("the colour table is missing") }
        }
        (self.width, self.height, self.bitsPerPixel, self.compression, self.colours, self.masks) = (width, height, bits, compression, colours, masks)
    }

    /// The pixels, RGBA, top row first.
    func read() throws(HalfsizeError) -> PixelBuffer {
        var pixels = [UInt8](repeating: 0, count: width * height * 4)
        if compression == Self.rle8 || compression == Self.rle4 {
            try readRunLengths(into: &pixels)
        } else {
            let stride = (width * bitsPerPixel + 31) / 32 * 4
            guard dataOffset >= 0, dataOffset + stride * height <= bytes.count else { throw Self.corrupt("the pixel data is cut short") }
            pixels.withUnsafeMutableBufferPointer { target in
                bytes.withUnsafeBufferPointer { file in
                    for row in 0..<height {
                        let y = topDown ? row : height - 1 - row
                        readRow(file, from: dataOffset + row * stride, into: target, at: y * width * 4)
                    }
                }
            }
        }
        return PixelBuffer(width: width, height: height, channels: 4, bytes: pixels)
    }

    /// One uncompressed row into RGBA; the row's bytes were checked to be in the file.
    private func readRow(_ file: UnsafeBufferPointer<UInt8>, from source: Int, into target: UnsafeMutableBufferPointer<UInt8>, at start: Int) {
        switch bitsPerPixel {
        case 24:
            for x in 0..<width {
                let base = source + x * 3, out = start + x * 4
                target[out] = file[base + 2]; target[out + 1] = file[base + 1]; target[out + 2] = file[base]; target[out + 3] = 255
            }
        case 1, 4, 8:
            let mask = (1 << bitsPerPixel) - 1
            for x in 0..<width {
                let bit = x * bitsPerPixel
                let index = Int(file[source + bit / 8] >> (8 - bitsPerPixel - bit % 8)) & mask
                let colour = index < colours.count ? colours[index] : [0, 0, 0, 255]
                for channel in 0..<4 { target[start + x * 4 + channel] = colour[channel] }
            }
        default:
            let (red, green, blue, alpha) = (masks[0], masks[1], masks[2], masks[3])
            for x in 0..<width {
                let base = source + x * bitsPerPixel / 8, out = start + x * 4
                let value = bitsPerPixel == 16 ? UInt32(file[base]) | UInt32(file[base + 1]) << 8
                    : UInt32(file[base]) | UInt32(file[base + 1]) << 8 | UInt32(file[base + 2]) << 16 | UInt32(file[base + 3]) << 24
                target[out] = Self.channel(value, red)
                target[out + 1] = Self.channel(value, green)
                target[out + 2] = Self.channel(value, blue)
                target[out + 3] = alpha == 0 ? 255 : Self.channel(value, alpha)
            }
        }
    }

    /// A masked field (one run of bits, checked in init) scaled to 8 bits.
    static func channel(_ value: UInt32, _ mask: UInt32) -> UInt8 {
        guard mask != 0 else { return 0 }
        let shift = mask.trailingZeroBitCount
        let maximum = UInt64(mask >> shift)
        let field = UInt64((value & mask) >> shift)
        return UInt8(min(255, (field * 255 + maximum / 2) / maximum))
    }

    private func put(_ colour: [UInt8], _ pixels: inout [UInt8], x: Int, y: Int) {
        let base = (y * width + x) * 4
        pixels[base] = colour[0]; pixels[base + 1] = colour[1]; pixels[base + 2] = colour[2]; pixels[base + 3] = colour[3]
    }

    /// RLE8 and RLE4: runs, literal runs, end of line, delta and end of bitmap. Pixels the runs
    /// skip stay transparent, as browsers show them.
    private func readRunLengths(into pixels: inout [UInt8]) throws(HalfsizeError) {
        var offset = dataOffset, x = 0, row = 0
        func next() throws(HalfsizeError) -> Int {
            guard offset >= 0, offset < bytes.count else { throw Self.corrupt("the run-length data is cut short") }
            defer { offset += 1 }
            return Int(bytes[offset])
        }
        func emit(_ index: Int) {
            guard x < width, row < height else { x += 1; return }
            put(index < colours.count ? colours[index] : [0, 0, 0, 255], &pixels, x: x, y: topDown ? row : height - 1 - row)
            x += 1
        }
        let nibbles = compression == Self.rle4
        while row < height {
            let count = try next(), value = try next()
            if count > 0 {
                for step in 0..<count { emit(nibbles ? (step % 2 == 0 ? value >> 4 : value & 15) : value) }
                continue
            }
            switch value {
            case 0: x = 0; row += 1
            case 1: return
            case 2:
                x += try next()
                row += try next()
            default:
                let stored = nibbles ? (value + 1) / 2 : value
                guard offset + stored <= bytes.count else { throw Self.corrupt("the run-length data is cut short") }
                for index in 0..<value {
                    let byte = Int(bytes[offset + (nibbles ? index / 2 : index)])
                    emit(nibbles ? (index % 2 == 0 ? byte >> 4 : byte & 15) : byte)
                }
                offset += stored + stored % 2  // literal runs are padded to 16 bits
            }
        }
    }

    static func u16(_ bytes: [UInt8], _ offset: Int) throws(HalfsizeError) -> UInt16 {
        guard offset >= 0, offset + 2 <= bytes.count else { throw corrupt("the header is cut short") }
        return UInt16(bytes[offset]) | UInt16(bytes[offset + 1]) << 8
    }

    static func u32(_ bytes: [UInt8], _ offset: Int) throws(HalfsizeError) -> UInt32 {
        guard offset >= 0, offset + 4 <= bytes.count else { throw corrupt("the header is cut short") }
        return UInt32(bytes[offset]) | UInt32(bytes[offset + 1]) << 8 | UInt32(bytes[offset + 2]) << 16 | UInt32(bytes[offset + 3]) << 24
    }

    static func corrupt(_ reason: String) -> HalfsizeError {
        HalfsizeError(.corruptImage, "the BMP image cannot be decoded: \(reason)")
    }
}

/// BMP: decoded by `BMPDecoder`, halved with the alpha-weighted average, written as JPEG or PNG
/// (`ConvertedOutput`).
enum BMPHalver {
    static func halve(_ input: [UInt8], options: HalvingOptions) throws(HalfsizeError) -> HalvedImage {
        let decoder = try BMPDecoder(input, maximumPixels: options.maximumPixels)
        let halved = BoxFilter.halve(try decoder.read())
        let started = ContinuousClock.now
        let output = try ConvertedOutput.encode(halved, options: options, icc: [])
        return HalvedImage(bytes: output.bytes, format: output.format, inputWidth: decoder.width, inputHeight: decoder.height,
                           outputWidth: halved.width, outputHeight: halved.height, warning: nil, warningCount: 0,
                           encodeDuration: ContinuousClock.now - started)
    }
}
