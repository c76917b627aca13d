import Foundation

/// RFC 4180 records: comma-separated fields, optional double quotes with "" escapes, CRLF or LF
/// line ends, an optional UTF-8 byte-order mark. Each record remembers the line it starts on.
public struct CSVRecord: Sendable, Equatable {
    public var line: Int
    public var fields: [String]
}

public enum CSVRecords {
    /// Splits text into records. Quotes that do not close, or text right after a closing quote,
    /// are `malformed_csv` problems with the line where they happen.
    public static func parse(_ text: String) -> (records: [CSVRecord], problems: [ValidationProblem]) {
        var records: [CSVRecord] = []
        var problems: [ValidationProblem] = []
        var fields: [String] = []
        var field: [UInt8] = []
        var line = 1
        var recordLine = 1
        var inQuotes = false
        var quotedLine = 0
        var afterClosingQuote = false
        var bytes = Array(text.utf8)
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { bytes.removeFirst(3) }

        func endField() {
            fields.append(String(decoding: field, as: UTF8.self))
            field.removeAll(keepingCapacity: true)
            afterClosingQuote = false
        }
        func endRecord() {
            endField()
            records.append(CSVRecord(line: recordLine, fields: fields))
            fields.removeAll(keepingCapacity: true)
        }

        var index = 0
        while index < bytes.count {
            let byte = bytes[index]
            index += 1
            if inQuotes {
                if byte == UInt8(ascii: "\"") {
                    if index < bytes.count, bytes[index] == UInt8(ascii: "\"") {
                        field.append(byte)
                        index += 1
                    } else {
                        inQuotes = false
                        afterClosingQuote = true
                    }
                } else {
                    if byte == UInt8(ascii: "\n") { line += 1 }
                    field.append(byte)
                }
                continue
            }
            switch byte {
            case UInt8(ascii: ","):
                endField()
            case UInt8(ascii: "\r"):
                if index < bytes.count, bytes[index] == UInt8(ascii: "\n") { index += 1 }
                endRecord()
                line += 1
                recordLine = line
            case UInt8(ascii: "\n"):
                endRecord()
                line += 1
                recordLine = line
            case UInt8(ascii: "\"") where field.allSatisfy({ $0 == UInt8(ascii: " ") }) && !afterClosingQuote:
                field.removeAll()
                inQuotes = true
                quotedLine = line
            default:
                if afterClosingQuote {
                    if byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") { continue }
                    problems.append(ValidationProblem(row: recordLine, column: nil, code: .malformedCSV,
                        message: "text after a closing quote on line \(line); a quote inside a quoted field is written as \"\""))
                    afterClosingQuote = false
                }
                field.append(byte)
            }
        }
        if inQuotes {
            problems.append(ValidationProblem(row: recordLine, column: nil, code: .malformedCSV,
                message: "the quote opened on line \(quotedLine) is never closed"))
        }
        if !field.isEmpty || !fields.isEmpty || afterClosingQuote { endRecord() }
        return (records, problems)
    }

    /// One field as CSV text, quoted when it must be.
    public static func escape(_ field: String) -> String {
        let needsQuotes = field.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" })
            || field.first == " " || field.last == " "
        guard needsQuotes else { return field }
        return "\"" + field.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    public static func line(_ fields: [String]) -> String {
        fields.map(escape).joined(separator: ",") + "\r\n"
    }

    /// Characters that make a spreadsheet read a cell as a formula (OWASP's CSV injection list).
    static let formulaStarts: Set<Character> = ["=", "+", "-", "@", "\t", "\r"]

    /// A field as a spreadsheet will show it, never run it: a leading `'` before a formula start.
    public static func neutralisingFormula(_ field: String) -> String {
        guard let first = field.unicodeScalars.first, formulaStarts.contains(Character(first)) else { return field }
        return "'" + field
    }
}

extension CSVRecords {
    /// A line of a CSV people will open in a spreadsheet: RFC 4180 quoting, formulas neutralised.
    public static func spreadsheetLine(_ fields: [String]) -> String {
        line(fields.map(neutralisingFormula))
    }
}
