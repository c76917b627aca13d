import CImageFixtures

/// WebPs written for tests by libwebp's own encoders (see `Tests/CImageFixtures`).
public enum FixtureWebP {
    /// A still from packed RGBA or RGB, with an EXIF orientation (> 1) and an ICC profile if given.
    public static func encode(_ pixels: [UInt8], width: Int, height: Int, channels: Int, lossless: Bool, quality: Int = 90,
                              orientation: Int = 1, icc: [UInt8] = []) -> [UInt8] {
        var output: UnsafeMutablePointer<UInt8>?
        var length = 0
        let status = pixels.withUnsafeBufferPointer { source in
            icc.withUnsafeBufferPointer { profile in
                fixture_webp_encode(source.baseAddress, Int32(width), Int32(height), Int32(channels), lossless ? 1 : 0, Int32(quality),
                                    Int32(orientation), profile.baseAddress, profile.count, &output, &length)
            }
        }
        precondition(status == 0, "libwebp could not write the fixture")
        defer { fixture_webp_free(output) }
        return Array(UnsafeBufferPointer(start: output, count: length))
    }

    /// An animation of RGBA canvases, each shown for its duration (ms).
    public static func animation(_ frames: [[UInt8]], durations: [Int], width: Int, height: Int, loopCount: Int,
                                 lossless: Bool) -> [UInt8] {
        var output: UnsafeMutablePointer<UInt8>?
        var length = 0
        let status = withFrameArrays(frames, durations: durations) { framePointers, durations in
            fixture_webp_animation(framePointers, durations, Int32(frames.count), Int32(width), Int32(height),
                                   Int32(loopCount), lossless ? 1 : 0, &output, &length)
        }
        precondition(status == 0, "libwebp could not write the animation")
        defer { fixture_webp_free(output) }
        return Array(UnsafeBufferPointer(start: output, count: length))
    }
}

/// The frames copied where C may keep pointers to them, and the durations as C ints, for the
/// fixture encoders that take arrays of frames.
func withFrameArrays<Result>(_ frames: [[UInt8]], durations: [Int],
                             _ body: (UnsafePointer<UnsafePointer<UInt8>?>?, UnsafePointer<Int32>?) -> Result) -> Result {
    let pointers = frames.map { frame in
        let copy = UnsafeMutablePointer<UInt8>.allocate(capacity: frame.count)
        copy.initialize(from: frame, count: frame.count)
        return UnsafePointer(copy)
    }
    defer { pointers.forEach { $0.deallocate() } }
    let times = durations.map(Int32.init)
    return pointers.map(Optional.some).withUnsafeBufferPointer { framePointers in
        times.withUnsafeBufferPointer { body(framePointers.baseAddress, $0.baseAddress) }
    }
}
