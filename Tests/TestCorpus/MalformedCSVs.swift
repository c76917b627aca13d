/// Over a hundred broken product CSVs, each with what is wrong planted at a known row: empty and
/// blank files, broken headers, wrong field counts, bad serial numbers and names, bad URLs (with
/// credentials among them), broken quoting, invalid UTF-8 and NUL bytes. Shared by the validator's
/// tests and the API's.
public enum MalformedCSVs {
    public struct Case: Sendable {
        public var name: String
        public var bytes: [UInt8]
        /// The row the planted problem is on (the header is row 1).
        public var row: Int
    }

    static let header = "S. No.,Product Name,Input Image Urls"

    static func good(_ serial: Int) -> String { "\(serial),Product \(serial),https://images.example.com/\(serial).jpg" }

    /// A file of `count` good rows with row `bad` (2 or more) replaced by `line`.
    static func planted(_ line: String, at bad: Int, rows count: Int = 5) -> [UInt8] {
        var lines = [header]
        for row in 2...(count + 1) { lines.append(row == bad ? line : good(row - 1)) }
        return Array((lines.joined(separator: "\n") + "\n").utf8)
    }

    public static let all: [Case] = {
        var cases: [Case] = []
        // The whole file.
        for (name, text) in [("empty", ""), ("blank lines", "\n\n\n"), ("spaces", "   \n \t \n"), ("BOM only", "\u{FEFF}"),
                             ("header only", header + "\n"), ("header and blank lines", header + "\n\n,,\n")] {
            cases.append(Case(name: name, bytes: Array(text.utf8), row: 1))
        }
        // The header.
        for header in ["Product Name,Input Image Urls", "S. No.,Input Image Urls", "S. No.,Product Name", "Serial,Name,URLs",
                       "S No,Product Name,Input Image Urls", "S. No.,Product Name,Input Image URL", "S. No.;Product Name;Input Image Urls",
                       "S. No.,Product Name,Input Image Urls,Output Image Urls", "\"S. No.,Product Name,Input Image Urls\"", "a"] {
            cases.append(Case(name: "header \(header)", bytes: Array((header + "\n" + good(1) + "\n").utf8), row: 1))
        }
        // Row-level problems, each planted on the first, a middle and the last row.
        let rowProblems: [(String, String)] = [
            ("too few fields", "1,Only two"),
            ("too many fields", "1,A,https://images.example.com/1.jpg,extra"),
            ("serial empty", ",A,https://images.example.com/1.jpg"),
            ("serial text", "abc,A,https://images.example.com/1.jpg"),
            ("serial decimal", "1.5,A,https://images.example.com/1.jpg"),
            ("serial too big", "99999999999999999999,A,https://images.example.com/1.jpg"),
            ("name empty", "7,,https://images.example.com/1.jpg"),
            ("name blank", "7,   ,https://images.example.com/1.jpg"),
            ("no URL", "7,A,"),
            ("URL blank list", "7,A,\" , , \""),
            ("URL not absolute", "7,A,images/1.jpg"),
            ("URL ftp", "7,A,ftp://images.example.com/1.jpg"),
            ("URL file", "7,A,file:///etc/passwd"),
            ("URL javascript", "7,A,javascript:alert(1)"),
            ("URL no host", "7,A,http://"),
            ("URL scheme-relative", "7,A,//images.example.com/1.jpg"),
            ("URL with credentials", "7,A,https://user:secret@images.example.com/1.jpg"),
            ("URL with a user name", "7,A,https://user@images.example.com/1.jpg"),
            ("URL data", "7,A,data:image/png;base64,iVBORw0KGgo="),
            ("URL gopher", "7,A,gopher://images.example.com/1.jpg"),
            ("URL with a space", "7,A,https://images.example.com/a b.jpg"),
            ("URL bad port", "7,A,https://images.example.com:99999/1.jpg"),
            ("URL too long", "7,A,https://images.example.com/" + String(repeating: "a", count: 2100)),
            ("second URL bad", "7,A,\"https://images.example.com/1.jpg, mailto:x@example.com\""),
            ("unterminated quote", "7,\"A,https://images.example.com/1.jpg"),
            ("text after a closing quote", "7,\"A\"x,https://images.example.com/1.jpg"),
        ]
        for (name, line) in rowProblems {
            for row in [2, 4, 6] { cases.append(Case(name: "\(name) on row \(row)", bytes: planted(line, at: row), row: row)) }
        }
        // A serial number used twice: the second use is the problem.
        for row in [3, 4, 6] { cases.append(Case(name: "duplicate serial on row \(row)", bytes: planted(good(1), at: row), row: row)) }
        // Bytes that are not text.
        for row in [2, 4, 6] {
            var invalid = planted("7,Caf\u{E9},https://images.example.com/7.jpg", at: row)
            if let index = invalid.firstIndex(of: 0xC3) { invalid.replaceSubrange(index...index + 1, with: [0xE9]) }  // Latin-1 é
            cases.append(Case(name: "Latin-1 byte on row \(row)", bytes: invalid, row: row))
            var nul = planted("7,A\u{0}B,https://images.example.com/7.jpg", at: row)
            nul.removeAll { $0 == 0xFF }
            cases.append(Case(name: "NUL byte on row \(row)", bytes: nul, row: row))
        }
        return cases
    }()
}
