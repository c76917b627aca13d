import CImageFixtures

/// AVIFs written for tests by libavif's own encoder (see `Tests/CImageFixtures`).
public enum FixtureAVIF {
    /// RGBA frames (one: a still), each shown for its duration in ms; `rotation` is irot's
    /// anticlockwise quarter turns.
    public static func encode(_ frames: [[UInt8]], durations: [Int], width: Int, height: Int, alpha: Bool, rotation: Int = 0) -> [UInt8] {
        var output: UnsafeMutablePointer<UInt8>?
        var length = 0
        let status = withFrameArrays(frames, durations: durations) { framePointers, durations in
            fixture_avif_encode(framePointers, durations, Int32(frames.count), Int32(width), Int32(height),
                                alpha ? 1 : 0, Int32(rotation), &output, &length)
        }
        precondition(status == 0, "libavif could not write the fixture")
        defer { fixture_avif_free(output) }
        return Array(UnsafeBufferPointer(start: output, count: length))
    }
}
