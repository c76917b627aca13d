/// EXIF orientation (TIFF tag 0x0112): how to turn the stored pixels to show them upright.
public enum Orientation: Int, Sendable {
    case up = 1, mirrored = 2, down = 3, downMirrored = 4, leftMirrored = 5, right = 6, rightMirrored = 7, left = 8

    /// Reads the orientation from an EXIF payload (the TIFF structure after "Exif\0\0").
    /// Anything unreadable counts as upright: a broken tag must not fail the image.
    public static func fromEXIF(_ exif: [UInt8]) -> Orientation {
        guard exif.count >= 8 else { return .up }
        let littleEndian: Bool
        switch (exif[0], exif[1]) {
        case (0x49, 0x49): littleEndian = true
        case (0x4D, 0x4D): littleEndian = false
        default: return .up
        }
        func read16(_ offset: Int) -> Int? {
            guard offset >= 0, offset + 2 <= exif.count else { return nil }
            let a = Int(exif[offset]), b = Int(exif[offset + 1])
            return littleEndian ? a | b << 8 : a << 8 | b
        }
        func read32(_ offset: Int) -> Int? {
            guard let low = read16(littleEndian ? offset : offset + 2), let high = read16(littleEndian ? offset + 2 : offset) else { return nil }
            return high << 16 | low
        }
        guard read16(2) == 42, let ifd = read32(4), let count = read16(ifd) else { return .up }
        for entry in 0..<min(count, 512) {
            let offset = ifd + 2 + entry * 12
            guard let tag = read16(offset) else { return .up }
            if tag == 0x0112 {
                guard read16(offset + 2) == 3, let value = read16(offset + 8) else { return .up }
                return Orientation(rawValue: value) ?? .up
            }
        }
        return .up
    }

    /// True when the upright image swaps width and height.
    public var swapsDimensions: Bool { rawValue >= 5 }
}

/// Packed 8-bit pixels: `channels` bytes per pixel, rows without padding.
public struct PixelBuffer: Sendable {
    public var width: Int
    public var height: Int
    public var channels: Int
    public var bytes: [UInt8]

    public init(width: Int, height: Int, channels: Int, bytes: [UInt8]) {
        precondition(bytes.count == width * height * channels)
        self.width = width
        self.height = height
        self.channels = channels
        self.bytes = bytes
    }

    /// The buffer turned upright for an EXIF orientation.
    public func oriented(_ orientation: Orientation) -> PixelBuffer {
        guard orientation != .up else { return self }
        let (outWidth, outHeight) = orientation.swapsDimensions ? (height, width) : (width, height)
        var output = [UInt8](repeating: 0, count: bytes.count)
        let channels = self.channels, width = self.width, height = self.height
        bytes.withUnsafeBufferPointer { source in
            output.withUnsafeMutableBufferPointer { destination in
                for y in 0..<outHeight {
                    for x in 0..<outWidth {
                        // Where the upright pixel (x, y) is stored in the source.
                        let (sx, sy): (Int, Int)
                        switch orientation {
                        case .up: (sx, sy) = (x, y)
                        case .mirrored: (sx, sy) = (width - 1 - x, y)
                        case .down: (sx, sy) = (width - 1 - x, height - 1 - y)
                        case .downMirrored: (sx, sy) = (x, height - 1 - y)
                        case .leftMirrored: (sx, sy) = (y, x)
                        case .right: (sx, sy) = (y, height - 1 - x)
                        case .rightMirrored: (sx, sy) = (width - 1 - y, height - 1 - x)
                        case .left: (sx, sy) = (width - 1 - y, x)
                        }
                        let from = (sy * width + sx) * channels
                        let to = (y * outWidth + x) * channels
                        for channel in 0..<channels { destination[to + channel] = source[from + channel] }
                    }
                }
            }
        }
        return PixelBuffer(width: outWidth, height: outHeight, channels: channels, bytes: output)
    }
}
