/// An image format as the bytes say, whatever the URL or Content-Type claims.
public enum ImageFormat: String, Sendable, Codable, CaseIterable {
    case jpeg, png, gif, webp, bmp, tiff, heif, avif, svg, unknown

    public var isSupported: Bool { [.jpeg, .png, .webp, .gif, .tiff, .bmp, .avif].contains(self) }

    /// "JPEG, PNG or WebP": what an unsupported_format message says can be halved.
    public static var supportedNames: String {
        let names = allCases.filter(\.isSupported).map(\.displayName)
        return names.dropLast().joined(separator: ", ") + " or " + names.last!
    }

    /// The downloader's `Accept` header: exactly the formats that can be halved, so a CDN that
    /// negotiates sends one of them.
    public static var acceptHeader: String {
        "Accept: " + allCases.filter(\.isSupported).map(\.mediaType).joined(separator: ", ")
    }

    /// The format an output name's extension stands for (`.jpg` JPEG); `unknown` for others.
    public static func fromExtension(_ name: String) -> ImageFormat {
        let suffix = name.split(separator: ".").last.map(String.init) ?? ""
        return [ImageFormat.jpeg, .png, .webp, .gif, .avif].first { $0.fileExtension == suffix } ?? .unknown
    }

    public var mediaType: String {
        switch self {
        case .svg: "image/svg+xml"
        case .unknown: "application/octet-stream"
        default: "image/\(rawValue)"
        }
    }

    public var fileExtension: String {
        switch self {
        case .jpeg: "jpg"
        default: rawValue
        }
    }

    public var displayName: String {
        switch self {
        case .jpeg: "JPEG"
        case .png: "PNG"
        case .gif: "GIF"
        case .webp: "WebP"
        case .bmp: "BMP"
        case .tiff: "TIFF"
        case .heif: "HEIF"
        case .avif: "AVIF"
        case .svg: "SVG"
        case .unknown: "an unknown type"
        }
    }

    /// Sniffs the format from the first bytes.
    public static func detect<Bytes: Collection>(_ bytes: Bytes) -> ImageFormat where Bytes.Element == UInt8 {
        let head = Array(bytes.prefix(32))
        func starts(_ signature: [UInt8], at offset: Int = 0) -> Bool {
            head.count >= offset + signature.count && Array(head[offset..<offset + signature.count]) == signature
        }
        if starts([0xFF, 0xD8, 0xFF]) { return .jpeg }
        if starts([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) { return .png }
        if starts(Array("GIF87a".utf8)) || starts(Array("GIF89a".utf8)) { return .gif }
        if starts(Array("RIFF".utf8)) && starts(Array("WEBP".utf8), at: 8) { return .webp }
        if starts(Array("BM".utf8)) { return .bmp }
        if starts([0x49, 0x49, 0x2A, 0x00]) || starts([0x4D, 0x4D, 0x00, 0x2A]) { return .tiff }
        if starts(Array("ftyp".utf8), at: 4) {
            let brand = head.count >= 12 ? String(decoding: head[8..<12], as: UTF8.self) : ""
            if brand.hasPrefix("avi") { return .avif }
            if ["heic", "heix", "mif1", "msf1", "heim", "heis", "hevc", "hevx"].contains(brand) { return .heif }
        }
        let text = String(decoding: head, as: UTF8.self).lowercased()
        if text.hasPrefix("<svg") || (text.hasPrefix("<?xml") && text.contains("svg")) { return .svg }
        return .unknown
    }
}
