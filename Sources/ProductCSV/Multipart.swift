import Foundation
import HalfsizeCore
import MultipartKit
import NIOCore

/// One part of a multipart/form-data body.
public struct MultipartPart: Sendable, Equatable {
    public var name: String?
    public var filename: String?
    public var contentType: String?
    public var body: [UInt8]
}

/// Reads a multipart/form-data body (RFC 7578) chunk by chunk as it arrives, with multipart-kit's
/// streaming parser: no search over a whole buffered body, and a part is complete only when its
/// closing boundary was seen.
public final class MultipartFormReader {
    private let parser: MultipartParser
    private var parts: [MultipartPart] = []
    private var current: MultipartPart?
    private var failure: HalfsizeError?

    /// The boundary parameter of a `multipart/form-data` Content-Type, or nil.
    public static func boundary(contentType: String) -> String? {
        let parts = contentType.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }
        guard parts.first?.lowercased() == "multipart/form-data" else { return nil }
        for parameter in parts.dropFirst() {
            let pair = parameter.split(separator: "=", maxSplits: 1).map(String.init)
            guard pair.count == 2, pair[0].lowercased() == "boundary" else { continue }
            let value = unquoted(pair[1])
            // RFC 2046: 1 to 70 characters.
            return (1...70).contains(value.utf8.count) ? value : nil
        }
        return nil
    }

    public init(boundary: String) {
        parser = MultipartParser(boundary: boundary)
        parser.onHeader = { [unowned self] name, value in header(name, value) }
        parser.onBody = { [unowned self] buffer in
            current = current ?? MultipartPart(body: [])
            current?.body.append(contentsOf: buffer.readableBytesView)
            buffer.moveReaderIndex(to: buffer.writerIndex)
        }
        parser.onPartComplete = { [unowned self] in
            parts.append(current ?? MultipartPart(body: []))
            current = nil
        }
    }

    /// Feeds the next bytes of the body.
    public func consume(_ buffer: ByteBuffer) throws(HalfsizeError) {
        guard failure == nil else { return }
        do {
            try parser.execute(buffer)
        } catch {
            failure = HalfsizeError(.invalidUpload, "the multipart body is malformed (a part's headers or boundary are broken)")
        }
        if let failure { throw failure }
    }

    public func consume(_ bytes: [UInt8]) throws(HalfsizeError) {
        try consume(ByteBuffer(bytes: bytes))
    }

    /// The complete parts once the body has ended; an error when it ended inside a part.
    public func finish() throws(HalfsizeError) -> [MultipartPart] {
        if let failure { throw failure }
        guard current == nil else {
            throw HalfsizeError(.invalidUpload, "the multipart body ends inside a part; the upload was cut short")
        }
        return parts
    }

    private func header(_ name: String, _ value: String) {
        current = current ?? MultipartPart(body: [])
        switch name.lowercased() {
        case "content-disposition":
            current?.name = Self.parameter("name", in: value)
            current?.filename = Self.parameter("filename", in: value)
        case "content-type":
            current?.contentType = value
        default:
            break
        }
    }

    static func parameter(_ name: String, in header: String) -> String? {
        for piece in header.split(separator: ";").dropFirst() {
            let pair = piece.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard pair.count == 2, pair[0].lowercased() == name else { continue }
            return unquoted(pair[1]).replacingOccurrences(of: "\\\"", with: "\"")
        }
        return nil
    }

    private static func unquoted(_ value: String) -> String {
        value.count >= 2 && value.hasPrefix("\"") && value.hasSuffix("\"") ? String(value.dropFirst().dropLast()) : value
    }
}

extension MultipartPart {
    init(body: [UInt8]) {
        self.init(name: nil, filename: nil, contentType: nil, body: body)
    }
}
