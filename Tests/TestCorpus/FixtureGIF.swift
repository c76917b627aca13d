import CImageFixtures

/// GIFs written for tests by giflib's own encoder (see `Tests/CImageFixtures`).
public enum FixtureGIF {
    public struct Frame {
        public var left = 0, top = 0, width: Int, height: Int
        public var indices: [UInt8]
        /// 0 unspecified, 1 keep, 2 restore to background, 3 restore to previous.
        public var disposal = 0
        /// Centiseconds.
        public var delay = 0
        public var transparent = -1
        public var interlaced = false

        public init(left: Int = 0, top: Int = 0, width: Int, height: Int, indices: [UInt8], disposal: Int = 0, delay: Int = 0,
                    transparent: Int = -1, interlaced: Bool = false) {
            (self.left, self.top, self.width, self.height, self.indices) = (left, top, width, height, indices)
            (self.disposal, self.delay, self.transparent, self.interlaced) = (disposal, delay, transparent, interlaced)
        }
    }

    /// `palette` is RGB, a power of two entries; `loopCount` -1 writes no loop extension.
    public static func encode(width: Int, height: Int, palette: [UInt8], frames: [Frame], loopCount: Int = -1) -> [UInt8] {
        var output: UnsafeMutablePointer<UInt8>?
        var length = 0
        let pinned = frames.map { frame in
            let copy = UnsafeMutablePointer<UInt8>.allocate(capacity: frame.indices.count)
            copy.initialize(from: frame.indices, count: frame.indices.count)
            return copy
        }
        defer { pinned.forEach { $0.deallocate() } }
        let described = zip(frames, pinned).map { frame, indices in
            fixture_gif_frame(left: Int32(frame.left), top: Int32(frame.top), width: Int32(frame.width), height: Int32(frame.height),
                              indices: indices, disposal: Int32(frame.disposal), delay: Int32(frame.delay),
                              transparent: Int32(frame.transparent), interlaced: frame.interlaced ? 1 : 0)
        }
        let status = fixture_gif_encode(Int32(width), Int32(height), palette, Int32(palette.count / 3), described, Int32(frames.count),
                                        Int32(loopCount), &output, &length)
        precondition(status == 0, "giflib could not write the fixture")
        defer { fixture_gif_free(output) }
        return Array(UnsafeBufferPointer(start: output, count: length))
    }
}
