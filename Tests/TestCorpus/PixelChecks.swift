import ImageCodecs

/// The channel values of one pixel, for the format tests.
public func pixel(_ buffer: PixelBuffer, _ x: Int, _ y: Int) -> [Int] {
    let start = (y * buffer.width + x) * buffer.channels
    return buffer.bytes[start..<start + buffer.channels].map(Int.init)
}

/// Same length, and every value within `tolerance` (lossy codecs).
public func nearlyEqual(_ a: [Int], _ b: [Int], within tolerance: Int) -> Bool {
    a.count == b.count && zip(a, b).allSatisfy { abs($0 - $1) <= tolerance }
}
