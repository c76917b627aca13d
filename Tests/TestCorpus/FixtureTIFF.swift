import CImageFixtures
import Foundation

/// TIFFs written for tests by libtiff (see `Tests/CImageFixtures`).
public enum FixtureTIFF {
    public enum Photometric: Int32, Sendable { case grey = 1, rgb = 2, cmyk = 5, ycbcr = 6 }
    public enum Compression: Int32, Sendable { case none = 1, lzw = 5, jpeg = 7, deflate = 8, packBits = 32773 }

    /// 8-bit samples, or 16-bit when `sixteenBit` (each UInt16 native-endian in `samples16`).
    public static func encode(_ samples: [UInt8] = [], samples16: [UInt16] = [], width: Int, height: Int, channels: Int,
                              photometric: Photometric, compression: Compression = .none, tiled: Bool = false,
                              orientation: Int = 1, alpha: Int = 0, pages: Int = 1) -> [UInt8] {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("fixture-\(UUID()).tiff").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let status: Int32 = samples16.isEmpty
            ? samples.withUnsafeBytes { fixture_tiff_write(path, $0.baseAddress, Int32(width), Int32(height), Int32(channels), 8,
                                                           photometric.rawValue, compression.rawValue, tiled ? 1 : 0, Int32(orientation),
                                                           Int32(alpha), Int32(pages)) }
            : samples16.withUnsafeBytes { fixture_tiff_write(path, $0.baseAddress, Int32(width), Int32(height), Int32(channels), 16,
                                                             photometric.rawValue, compression.rawValue, tiled ? 1 : 0, Int32(orientation),
                                                             Int32(alpha), Int32(pages)) }
        precondition(status == 0, "libtiff could not write the fixture")
        return [UInt8](FileManager.default.contents(atPath: path) ?? Data())
    }
}
