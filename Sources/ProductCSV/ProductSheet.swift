import Foundation
import HalfsizeCore

/// One problem in an uploaded CSV. `row` counts records as a spreadsheet shows them: the header is
/// row 1, the first product row 2. `column` is the header's name for the column, when there is one;
/// `value` is what the cell held (cut to 200 characters), when one cell is at fault.
public struct ValidationProblem: Sendable, Equatable, Codable {
    public var row: Int
    public var column: String?
    public var value: String?
    public var code: ErrorCode
    public var message: String

    public init(row: Int, column: String?, value: String? = nil, code: ErrorCode, message: String) {
        self.row = row
        self.column = column
        self.value = value.map { $0.count > 200 ? $0.prefix(200) + "…" : $0 }
        self.code = code
        self.message = message
    }
}

/// A product row that passed validation.
public struct ProductRow: Sendable, Equatable {
    /// The row number as in `ValidationProblem.row`.
    public var row: Int
    public var serialNumber: Int64
    public var productName: String
    public var imageURLs: [String]
    /// Every field of the input row, extra columns included, as uploaded.
    public var fields: [String]
}

/// How much one upload may ask for (ingest's `HALFSIZE_MAX_ROWS`, `HALFSIZE_MAX_URLS_PER_ROW`).
public struct ValidationLimits: Sendable, Equatable {
    public var maximumRows: Int
    public var maximumURLsPerRow: Int

    public init(maximumRows: Int, maximumURLsPerRow: Int) {
        self.maximumRows = maximumRows
        self.maximumURLsPerRow = maximumURLsPerRow
    }

    /// For re-reading an upload that was accepted under whatever limits held then.
    public static let unlimited = ValidationLimits(maximumRows: .max, maximumURLsPerRow: .max)
}

/// A validated input CSV: `S. No.`, `Product Name`, `Input Image Urls`, plus any extra columns.
public struct ProductSheet: Sendable, Equatable {
    public static let serialNumberColumn = "S. No."
    public static let productNameColumn = "Product Name"
    public static let inputURLsColumn = "Input Image Urls"
    public static let outputURLsColumn = "Output Image Urls"
    public static let maximumURLLength = 2048

    public var header: [String]
    public var rows: [ProductRow]

    public var imageCount: Int { rows.reduce(0) { $0 + $1.imageURLs.count } }

    /// Validates an uploaded file: UTF-8 (with or without a byte-order mark) first, then `validate`.
    public static func validate(bytes: [UInt8], limits: ValidationLimits = .unlimited) -> Result<ProductSheet, ValidationFailure> {
        if let text = String(validating: bytes, as: UTF8.self) { return validate(text, limits: limits) }
        var parser = Unicode.UTF8.ForwardParser()
        var iterator = bytes.makeIterator()
        var offset = 0
        while case .valid(let scalar) = parser.parseScalar(from: &iterator) { offset += scalar.count }
        let line = 1 + bytes[..<offset].count { $0 == UInt8(ascii: "\n") }
        let byte = offset < bytes.count ? String(bytes[offset], radix: 16, uppercase: true) : "?"
        return .failure(ValidationFailure(problems: [
            ValidationProblem(row: line, column: nil, code: .malformedCSV,
                              message: "byte 0x\(byte) on line \(line) is not UTF-8 text; save the CSV as UTF-8"),
        ]))
    }

    /// Parses and validates the whole file, reporting every problem at once.
    public static func validate(_ text: String, limits: ValidationLimits = .unlimited) -> Result<ProductSheet, ValidationFailure> {
        if text.allSatisfy({ $0.isWhitespace || $0 == "\u{FEFF}" }) {
            return .failure(ValidationFailure(problems: [
                ValidationProblem(row: 1, column: nil, code: .emptyFile, message: "the file is empty; expected a header row and at least one product"),
            ]))
        }
        var (records, problems) = CSVRecords.parse(text)
        records.removeAll { $0.fields.allSatisfy { $0.trimmingCharacters(in: .whitespaces).isEmpty } }
        guard let headerRecord = records.first else {
            return .failure(ValidationFailure(problems: problems + [
                ValidationProblem(row: 1, column: nil, code: .emptyFile, message: "the file has no rows"),
            ]))
        }
        let header = headerRecord.fields.map { $0.trimmingCharacters(in: .whitespaces) }
        func columnIndex(_ name: String) -> Int? {
            let wanted = name.lowercased()
            return header.firstIndex { $0.lowercased() == wanted }
        }
        let required = [serialNumberColumn, productNameColumn, inputURLsColumn]
        let indices = required.map(columnIndex)
        for (name, index) in zip(required, indices) where index == nil {
            problems.append(ValidationProblem(row: 1, column: name, code: .missingHeader,
                message: "the header has no \"\(name)\" column (found: \(header.joined(separator: ", ")))"))
        }
        if header.contains(where: { $0.lowercased() == outputURLsColumn.lowercased() }) {
            problems.append(ValidationProblem(row: 1, column: outputURLsColumn, code: .missingHeader,
                message: "the input already has an \"\(outputURLsColumn)\" column; remove it, the output adds it"))
        }
        guard let serialIndex = indices[0], let nameIndex = indices[1], let urlsIndex = indices[2] else {
            return .failure(ValidationFailure(problems: problems))
        }
        if records.count == 1 {
            problems.append(ValidationProblem(row: 1, column: nil, code: .emptyFile, message: "the file has a header but no product rows"))
        }
        if records.count - 1 > limits.maximumRows {
            problems.append(ValidationProblem(row: 1, column: nil, code: .tooManyRows,
                message: "the file has \(records.count - 1) product rows; at most \(limits.maximumRows) are taken in one upload, so split it"))
        }

        var rows: [ProductRow] = []
        var firstRowOfSerial: [Int64: Int] = [:]
        for (offset, record) in records.dropFirst().enumerated() {
            let row = offset + 2
            guard record.fields.count == header.count else {
                problems.append(ValidationProblem(row: row, column: nil, code: .wrongFieldCount,
                    message: "row has \(record.fields.count) fields but the header has \(header.count); quote URL lists that contain commas"))
                continue
            }
            let problemsBefore = problems.count
            for (index, field) in record.fields.enumerated() where field.contains("\u{0}") {
                problems.append(ValidationProblem(row: row, column: header[index], code: .malformedCSV,
                    message: "\(header[index]) contains a NUL byte; the file may not be a text CSV"))
            }
            let serialText = record.fields[serialIndex].trimmingCharacters(in: .whitespaces)
            let serial = Int64(serialText)
            if let serial {
                if let first = firstRowOfSerial[serial] {
                    problems.append(ValidationProblem(row: row, column: header[serialIndex], value: serialText, code: .duplicateSerialNumber,
                        message: "S. No. \(serial) is also used on row \(first)"))
                } else {
                    firstRowOfSerial[serial] = row
                }
            } else {
                problems.append(ValidationProblem(row: row, column: header[serialIndex], value: serialText, code: .invalidSerialNumber,
                    message: serialText.isEmpty ? "S. No. is empty; expected a whole number" : "S. No. \"\(serialText)\" is not a whole number"))
            }
            let name = record.fields[nameIndex].trimmingCharacters(in: .whitespaces)
            if name.isEmpty {
                problems.append(ValidationProblem(row: row, column: header[nameIndex], code: .emptyProductName,
                    message: "Product Name is empty"))
            }
            let urls = record.fields[urlsIndex].split(separator: ",", omittingEmptySubsequences: false)
                .map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
                .filter { !$0.isEmpty }
            if urls.isEmpty {
                problems.append(ValidationProblem(row: row, column: header[urlsIndex], value: record.fields[urlsIndex], code: .noImageURL,
                    message: "no image URL; list one or more, separated by commas"))
            } else if urls.count > limits.maximumURLsPerRow {
                problems.append(ValidationProblem(row: row, column: header[urlsIndex], value: "\(urls.count) URLs", code: .tooManyURLs,
                    message: "\(urls.count) image URLs; at most \(limits.maximumURLsPerRow) are taken per product"))
            }
            for (position, url) in urls.enumerated() {
                if let reason = urlProblem(url) {
                    // A URL carrying credentials is never echoed back: the answer may end up in logs.
                    let shown = URLParts(url)?.hasUserInfo == true ? nil : url
                    problems.append(ValidationProblem(row: row, column: header[urlsIndex], value: shown, code: .invalidURL,
                        message: "URL \(position + 1) \(reason)"))
                }
            }
            if problems.count == problemsBefore, let serial {
                rows.append(ProductRow(row: row, serialNumber: serial, productName: name, imageURLs: urls, fields: record.fields))
            }
        }
        if !problems.isEmpty {
            // Stable: within a row, problems stay in column order.
            return .failure(ValidationFailure(problems: problems.sorted { $0.row < $1.row }))
        }
        return .success(ProductSheet(header: header, rows: rows))
    }

    /// Why a URL cannot be downloaded, or nil when it is an absolute http(s) URL.
    public static func urlProblem(_ text: String) -> String? {
        if text.utf8.count > maximumURLLength { return "is longer than \(maximumURLLength) bytes" }
        guard let components = URLParts(text) else { return "is not an absolute http or https URL" }
        guard components.scheme == "http" || components.scheme == "https" else {
            return "uses \(components.scheme):; only http and https are downloaded"
        }
        guard !components.host.isEmpty else { return "has no host" }
        guard !components.hasUserInfo else {
            return "contains a user name or password (not shown here); image URLs must not carry credentials"
        }
        return nil
    }

    /// The output CSV: the input's columns and rows, in order, plus `Output Image Urls` holding one
    /// URL per input URL in the same sequence, an empty slot where an image failed.
    public func outputCSV(outputURLs: (ProductRow) -> [String?]) -> String {
        var text = CSVRecords.spreadsheetLine(header + [Self.outputURLsColumn])
        for row in rows {
            let slots = outputURLs(row).map { $0 ?? "" }
            text += CSVRecords.spreadsheetLine(row.fields + [slots.joined(separator: ",")])
        }
        return text
    }
}

public struct ValidationFailure: Error, Sendable, Equatable {
    public var problems: [ValidationProblem]

    public init(problems: [ValidationProblem]) {
        self.problems = problems
    }

    public var summary: String {
        problems.count == 1 ? "the CSV has 1 problem" : "the CSV has \(problems.count) problems"
    }
}

/// The scheme and host of an absolute URL, without Foundation's leniency about missing schemes.
struct URLParts {
    var scheme: String
    var host: String
    /// `user:password@` before the host.
    var hasUserInfo: Bool

    init?(_ text: String) {
        guard let colon = text.firstIndex(of: ":") else { return nil }
        let scheme = text[..<colon].lowercased()
        guard let first = scheme.first, first.isLetter,
              scheme.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "+" || $0 == "-" || $0 == "." }) else { return nil }
        let rest = text[text.index(after: colon)...]
        guard rest.hasPrefix("//") else { return nil }
        guard !text.contains(where: { $0.isWhitespace || $0.asciiValue.map { $0 < 0x20 } == true }) else { return nil }
        let authority = rest.dropFirst(2).prefix { $0 != "/" && $0 != "?" && $0 != "#" }
        let hostAndPort = authority.split(separator: "@").last.map(String.init) ?? ""
        var host = hostAndPort
        if host.hasPrefix("[") {
            host = String(host.prefix { $0 != "]" }.dropFirst())
        } else if let portColon = host.lastIndex(of: ":") {
            let port = host[host.index(after: portColon)...]
            guard port.allSatisfy(\.isNumber), Int(port).map({ $0 <= 65535 }) ?? port.isEmpty else { return nil }
            host = String(host[..<portColon])
        }
        self.scheme = scheme
        self.host = host
        self.hasUserInfo = authority.contains("@")
    }
}
