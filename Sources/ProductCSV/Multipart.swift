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
    private var nameGuard: MultipartHeaderNameGuard
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
        nameGuard = MultipartHeaderNameGuard(boundary: boundary)
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
        guard nameGuard.admits(buffer.readableBytesView) else {
            failure = HalfsizeError(.invalidUpload, "the multipart body is malformed (a part's header name is not ASCII)")
            throw failure!
        }
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

/// multipart-kit 4.7.1 looks every byte of a part's header names up in a 128-entry table, so a
/// byte from 0x80 up in a header name traps and the process dies (found by the contract test).
/// This follows the body byte by byte through the same states as its `MultipartParser` (preamble,
/// headers, body, boundary, epilogue) and refuses such a byte before the parser sees it. Where the
/// parser would have thrown, the upload is refused either way.
struct MultipartHeaderNameGuard {
    private enum State {
        case preamble(matched: Int)
        case beforeHeaders(sawCR: Bool)
        case headerName(empty: Bool)
        case headerValue
        case afterHeaderValue
        case afterHeaders
        case body
        case boundary(matched: Int)
        case done
    }

    private let boundary: [UInt8]
    private var state = State.preamble(matched: 0)

    init(boundary: String) {
        self.boundary = Array("\r\n--\(boundary)".utf8)
    }

    /// False when one of the bytes would be looked up as a header-name character out of range.
    mutating func admits(_ bytes: some Sequence<UInt8>) -> Bool {
        let cr: UInt8 = 13, lf: UInt8 = 10, colon: UInt8 = 58
        for byte in bytes {
            switch state {
            case .preamble(let matched):
                // The parser may skip the first CRLF, and restarts a broken match at 1 or 0.
                let next = matched == 0 && byte == boundary[2] ? 3
                    : byte == boundary[matched] ? matched + 1
                    : matched > 0 && byte == boundary[0] ? 1 : 0
                state = next >= boundary.count ? .beforeHeaders(sawCR: false) : .preamble(matched: next)
            case .beforeHeaders(let sawCR):
                state = !sawCR && byte == cr ? .beforeHeaders(sawCR: true) : sawCR && byte == lf ? .headerName(empty: true) : .done
            case .headerName(let empty):
                if byte == colon && !empty {
                    state = .headerValue
                } else if byte == cr && empty {
                    state = .afterHeaders
                } else if byte >= 0x80 {
                    return false
                } else {
                    state = .headerName(empty: false)  // or the parser throws on it: refused anyway
                }
            case .headerValue:
                if byte == cr { state = .afterHeaderValue }
            case .afterHeaderValue:
                state = byte == lf ? .headerName(empty: true) : .done
            case .afterHeaders:
                state = byte == lf ? .body : .done
            case .body:
                if byte == boundary[0] { state = .boundary(matched: 1) }
            case .boundary(let matched):
                if matched >= boundary.count {
                    // CR: the next part's headers; a hyphen: the end (the epilogue is not read); else an error.
                    state = byte == cr ? .beforeHeaders(sawCR: true) : .done
                } else if byte == boundary[matched] {
                    state = .boundary(matched: matched + 1)
                } else {
                    state = byte == boundary[0] ? .boundary(matched: 1) : .body
                }
            case .done:
                return true  // the parser reads no further
            }
        }
        return true
    }
}
