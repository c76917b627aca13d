import CCrypto
import Foundation

/// What S3's requests and answers need of text. The answers read here (errors, DeleteObjects and
/// ListObjectsV2 results) are flat XML whose fields are read by element name; a full XML parser
/// (FoundationXML) would bring libxml2 into every image for that.
enum S3Text {
    /// Every value of `<name>…</name>` in the document, entities decoded.
    static func values(of name: String, in document: [UInt8]) -> [String] {
        let text = String(decoding: document, as: UTF8.self)
        var values: [String] = []
        var rest = text[...]
        while let open = rest.range(of: "<\(name)>"), let close = rest[open.upperBound...].range(of: "</\(name)>") {
            values.append(xmlUnescaped(String(rest[open.upperBound..<close.lowerBound])))
            rest = rest[close.upperBound...]
        }
        return values
    }

    static func xmlEscaped(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }

    static func xmlUnescaped(_ text: String) -> String {
        text.replacingOccurrences(of: "&lt;", with: "<").replacingOccurrences(of: "&gt;", with: ">")
            .replacingOccurrences(of: "&quot;", with: "\"").replacingOccurrences(of: "&apos;", with: "'")
            .replacingOccurrences(of: "&amp;", with: "&")
    }

    /// SigV4's encoding: everything but the unreserved characters `A-Z a-z 0-9 - . _ ~`.
    static func percentEncoded(_ text: String) -> String {
        var unreserved = CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
        unreserved.insert(charactersIn: "-._~")
        return text.addingPercentEncoding(withAllowedCharacters: unreserved) ?? text
    }
}

/// Digests S3 asks for, from libcrypto (already linked through libcurl).
enum S3Digest {
    static func sha256Hex(_ bytes: [UInt8]) -> String {
        digest(bytes, EVP_sha256()).map { String(format: "%02x", $0) }.joined()
    }

    static func md5Base64(_ bytes: [UInt8]) -> String {
        Data(digest(bytes, EVP_md5())).base64EncodedString()
    }

    private static func digest(_ bytes: [UInt8], _ algorithm: OpaquePointer?) -> [UInt8] {
        var output = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        _ = bytes.withUnsafeBytes { input in
            EVP_Digest(input.baseAddress, input.count, &output, &length, algorithm, nil)
        }
        return Array(output.prefix(Int(length)))
    }
}
