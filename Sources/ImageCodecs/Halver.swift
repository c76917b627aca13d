import CHalfsizeShims
import CJPEG
import CPNG
import HalfsizeCore

/// What every output is written as: the input's own family (`keep`), or one format for all.
public enum OutputFormat: String, Sendable, CaseIterable {
    case keep, jpeg, png, webp

    var imageFormat: ImageFormat? {
        switch self {
        case .keep: nil
        case .jpeg: .jpeg
        case .png: .png
        case .webp: .webp
        }
    }
}

public struct HalvingOptions: Sendable {
    /// JPEG output quality, 1…100.
    public var quality: Int
    /// JPEG Huffman tables fitted to each image: about 3% smaller output for about a quarter more
    /// time than the standard tables (tables trained on other photos measured no better than those).
    public var optimizeHuffman: Bool
    /// Images with more pixels than this are refused from their header, before decoding.
    public var maximumPixels: Int
    /// Progressive JPEGs with more scans than this are refused (a decompression-bomb guard).
    public var maximumScans: Int
    /// libdeflate compression level for PNG output, 0…12 (6 is its default; 9 is about zlib 9).
    public var pngCompressionLevel: Int
    /// Animations with more frames than this are refused from their header; `maximumPixels`
    /// then bounds width × height × frames.
    public var maximumFrames: Int
    public var outputFormat: OutputFormat

    public init(quality: Int = 85, optimizeHuffman: Bool = false, maximumPixels: Int = 50_000_000, maximumScans: Int = 100,
                pngCompressionLevel: Int = 6, maximumFrames: Int = 1000, outputFormat: OutputFormat = .keep) {
        self.quality = quality
        self.optimizeHuffman = optimizeHuffman
        self.maximumPixels = maximumPixels
        self.maximumScans = maximumScans
        self.pngCompressionLevel = pngCompressionLevel
        self.maximumFrames = maximumFrames
        self.outputFormat = outputFormat
    }
}

public struct HalvedImage: Sendable {
    public var bytes: [UInt8]
    public var format: ImageFormat
    public var inputWidth: Int, inputHeight: Int
    public var outputWidth: Int, outputHeight: Int
    /// Decoder warnings worth logging (the first one's text and how many there were).
    public var warning: String?
    public var warningCount: Int
    /// How long the halving took, and the part of it spent encoding the output (the rest
    /// decoded and averaged), for metrics.
    public var duration: Duration = .zero
    public var encodeDuration: Duration = .zero
}

/// Halves an image's width and height. One rounding rule for every format: an odd side of n
/// pixels becomes (n + 1) / 2, the last row or column averaging the pixels it has; a side of 1
/// stays 1. Upright (EXIF orientation applied) dimensions are reported.
public enum Halver {
    public static func halve(_ input: [UInt8], options: HalvingOptions = HalvingOptions()) throws(HalfsizeError) -> HalvedImage {
        let started = ContinuousClock.now
        var halved: HalvedImage
        let format = ImageFormat.detect(input)
        if let forced = options.outputFormat.imageFormat, forced != format, format.isSupported {
            var halved = try ForcedOutput.halve(input, as: forced, options: options)
            halved.duration = ContinuousClock.now - started
            return halved
        }
        switch format {
        case .jpeg: halved = try JPEGHalver.halve(input, options: options)
        case .png: halved = try PNGHalver.halve(input, options: options)
        case .webp: halved = try WebPHalver.halve(input, options: options)
        case .gif: halved = try GIFHalver.halve(input, options: options)
        case .tiff: halved = try TIFFHalver.halve(input, options: options)
        case .bmp: halved = try BMPHalver.halve(input, options: options)
        case .avif: halved = try AVIFHalver.halve(input, options: options)
        default:
            throw HalfsizeError(.unsupportedFormat, "the file is \(format.displayName), not \(ImageFormat.supportedNames)")
        }
        halved.duration = ContinuousClock.now - started
        return halved
    }

    /// The halved length of a side: (n + 1) / 2.
    public static func halvedLength(_ length: Int) -> Int { (length + 1) / 2 }

    /// Tunes the allocator for a process that halves image after image: freed decoder buffers
    /// stay in the process for the next image instead of being faulted in and zeroed again.
    public static func keepFreedBuffersForReuse() { hs_malloc_keep_freed_blocks() }
}

/// Turns the C codecs' status codes into thrown errors: the one place that reads them.
enum CodecStatus {
    static func check(_ status: Int32, format: String, message text: String, encoding: Bool = false) throws(HalfsizeError) {
        switch Int(status) {
        case Int(HS_OK): return
        case Int(HS_TOO_LARGE): throw HalfsizeError(.tooLarge, "the \(format) image is too large: \(text)")
        case Int(HS_NO_MEMORY): throw HalfsizeError(.outOfMemory, "not enough memory for the \(format) image: \(text)")
        default:
            guard !encoding else { throw HalfsizeError(.corruptImage, "the halved \(format) image cannot be encoded: \(text)") }
            throw HalfsizeError(.corruptImage, "the \(format) image cannot be decoded: \(text)")
        }
    }

    static func text(_ characters: [CChar]) -> String {
        String(decoding: characters.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    static func message<T>(_ tuple: inout T) -> String {
        withUnsafeBytes(of: &tuple) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
    }
}

/// The colour space an ICC profile describes (bytes 16–19 of its header).
enum ICCProfile {
    static func colorSpace(_ profile: [UInt8]) -> String? {
        guard profile.count >= 20 else { return nil }
        return String(decoding: profile[16..<20], as: UTF8.self)
    }
}
