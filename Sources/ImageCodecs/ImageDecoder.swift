import HalfsizeCore

/// Full-size decoding, for checking results (tests, the benchmark's quality figure): pixels as
/// stored, 8-bit grey, grey+alpha, RGB or RGBA, with the EXIF orientation it carries.
public enum ImageDecoder {
    public struct Decoded: Sendable {
        public var pixels: PixelBuffer
        public var format: ImageFormat
        public var orientation: Orientation
        /// The pixels as a person sees them.
        public var upright: PixelBuffer { pixels.oriented(orientation) }
    }

    public static func decode(_ input: [UInt8], maximumPixels: Int = 200_000_000) throws(HalfsizeError) -> Decoded {
        switch ImageFormat.detect(input) {
        case .jpeg:
            return try JPEGDecoder.with(input, scaleDenominator: 1, maximumPixels: maximumPixels, maximumScans: 0) { decoder throws(HalfsizeError) in
                Decoded(pixels: try decoder.readPixels(), format: .jpeg, orientation: decoder.orientation)
            }
        case .png:
            return try PNGDecoder.with(input, maximumPixels: maximumPixels) { decoder throws(HalfsizeError) in
                Decoded(pixels: try decoder.readImage(), format: .png, orientation: .up)
            }
        case let other:
            throw HalfsizeError(.unsupportedFormat, "the file is \(other.displayName), not JPEG or PNG")
        }
    }
}
