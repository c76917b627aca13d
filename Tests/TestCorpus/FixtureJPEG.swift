import CImageFixtures

/// JPEGs written for tests by libjpeg with chosen settings (see `Tests/CImageFixtures`).
public enum FixtureJPEG {
    /// Encodes packed rows: `colourSpace` is `FIXTURE_GREY`, `FIXTURE_YCBCR` (RGB rows) or
    /// `FIXTURE_YCCK` (CMYK rows); luma sampling is `sampling`, chroma 1 × 1.
    public static func encode(_ pixels: [UInt8], width: Int, height: Int, colourSpace: Int32,
                              sampling: (horizontal: Int32, vertical: Int32) = (2, 2), progressive: Bool = false,
                              quality: Int32 = 95) -> [UInt8] {
        var output: UnsafeMutablePointer<UInt8>?
        var length: UInt = 0
        pixels.withUnsafeBufferPointer { source in
            fixture_jpeg_encode(source.baseAddress, Int32(width), Int32(height), colourSpace, sampling.horizontal,
                                sampling.vertical, progressive ? 1 : 0, quality, &output, &length)
        }
        defer { fixture_free(output) }
        return Array(UnsafeBufferPointer(start: output, count: Int(length)))
    }
}
