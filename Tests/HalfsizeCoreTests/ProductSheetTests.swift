import HalfsizeCore
import ProductCSV
import TestCorpus
import Testing

@Suite("CSV validation")
struct ProductSheetTests {
    func problems(_ text: String, limits: ValidationLimits = .unlimited) -> [ValidationProblem] {
        switch ProductSheet.validate(text, limits: limits) {
        case .success: return []
        case .failure(let failure): return failure.problems
        }
    }

    @Test func acceptsTheOriginalFormat() throws {
        let text = """
        S. No.,Product Name,Input Image Urls
        1,SKU1,"https://example.com/a.jpg, https://example.com/b.jpg ,https://example.com/c.png"
        2,SKU2,https://example.com/d.jpg
        """
        let sheet = try ProductSheet.validate(text).get()
        #expect(sheet.rows.count == 2)
        #expect(sheet.rows[0].imageURLs == ["https://example.com/a.jpg", "https://example.com/b.jpg", "https://example.com/c.png"])
        #expect(sheet.rows[0].serialNumber == 1)
        #expect(sheet.rows[0].row == 2)
        #expect(sheet.rows[1].productName == "SKU2")
        #expect(sheet.imageCount == 4)
    }

    @Test func headerMatchIgnoresCaseAndSpacesAndKeepsExtraColumns() throws {
        let text = " s. no. , PRODUCT NAME ,Brand,  input image urls\r\n7,Shoe,Acme,http://x.test/1.jpg\r\n"
        let sheet = try ProductSheet.validate(text).get()
        #expect(sheet.header == ["s. no.", "PRODUCT NAME", "Brand", "input image urls"])
        #expect(sheet.rows[0].fields == ["7", "Shoe", "Acme", "http://x.test/1.jpg"])
        let output = sheet.outputCSV { _ in ["https://out.test/r2-1.jpg"] }
        #expect(output == "s. no.,PRODUCT NAME,Brand,input image urls,Output Image Urls\r\n7,Shoe,Acme,http://x.test/1.jpg,https://out.test/r2-1.jpg\r\n")
    }

    @Test func emptyFile() {
        #expect(problems("").map(\.code) == [.emptyFile])
        #expect(problems("  \n\n").map(\.code) == [.emptyFile])
        #expect(problems("S. No.,Product Name,Input Image Urls\n").map(\.code) == [.emptyFile])
    }

    @Test func missingHeadersAreAllReported() {
        let found = problems("Number,Name\n1,a\n")
        #expect(found.map(\.code) == [.missingHeader, .missingHeader, .missingHeader])
        #expect(Set(found.compactMap(\.column)) == ["S. No.", "Product Name", "Input Image Urls"])
    }

    @Test func reportsEveryProblemAtOnceWithRowAndColumn() {
        let text = """
        S. No.,Product Name,Input Image Urls
        1,Good,https://example.com/a.jpg
        x,Bad serial,https://example.com/b.jpg
        1,Duplicate,https://example.com/c.jpg
        4,,https://example.com/d.jpg
        5,No URL,
        6,Bad URL,"ftp://example.com/e.jpg, /relative.jpg, https://ok.example/f.jpg"
        7,Too,many,fields
        8,Short
        """
        let found = problems(text)
        let summary = found.map { "\($0.row):\($0.column ?? "-"):\($0.code.rawValue)" }
        #expect(summary == [
            "3:S. No.:invalid_serial_number",
            "4:S. No.:duplicate_serial_number",
            "5:Product Name:empty_product_name",
            "6:Input Image Urls:no_image_url",
            "7:Input Image Urls:invalid_url",
            "7:Input Image Urls:invalid_url",
            "8:-:wrong_field_count",
            "9:-:wrong_field_count",
        ])
        #expect(found[1].message.contains("row 2"))
        #expect(found.allSatisfy { !$0.message.isEmpty })
        // The value found in the cell at fault, for the problems table.
        #expect(found.map(\.value) == ["x", "1", nil, "", "ftp://example.com/e.jpg", "/relative.jpg", nil, nil])
    }

    @Test func urlsMustBeAbsoluteHTTP() {
        let cases: [(String, Bool)] = [
            ("https://example.com/a.jpg", true), ("http://127.0.0.1:8080/x.png", true), ("HTTPS://EXAMPLE.COM/A", true),
            ("http://[::1]:80/a", true), ("example.com/a.jpg", false), ("//example.com/a.jpg", false),
            ("file:///etc/passwd", false), ("javascript:alert(1)", false), ("https:///nohost", false),
            ("http://exa mple.com/a", false), ("http://example.com:99999/", false),
        ]
        for (url, valid) in cases {
            let text = "S. No.,Product Name,Input Image Urls\n1,P,\"\(url)\"\n"
            #expect(problems(text).isEmpty == valid, "\(url)")
        }
    }

    @Test func quotingRules() throws {
        let text = "S. No.,Product Name,Input Image Urls\n1,\"Shirt, \"\"blue\"\"\",\"https://a.test/1.jpg,\nhttps://a.test/2.jpg\"\n"
        let sheet = try ProductSheet.validate(text).get()
        #expect(sheet.rows[0].productName == "Shirt, \"blue\"")
        #expect(sheet.rows[0].imageURLs.count == 2)
        let output = sheet.outputCSV { _ in ["u1", nil] }
        #expect(output.hasSuffix("1,\"Shirt, \"\"blue\"\"\",\"https://a.test/1.jpg,\nhttps://a.test/2.jpg\",\"u1,\"\r\n"))
    }

    /// A product name a spreadsheet would run as a formula is written with a leading `'`:
    /// `=`, `+`, `-`, `@`, tab and carriage return; other cells and the URLs are as they came.
    @Test func outputNeverCarriesAFormula() throws {
        let names = ["=HYPERLINK(\"http://x.test\",\"click\")", "+1+1", "-2+3", "@SUM(A1)", "\tTab", "\rReturn", "Plain = text", "'quoted"]
        let rows = names.enumerated().map { "\($0.offset + 1),\(CSVRecords.escape($0.element)),Acme,https://a.test/\($0.offset).jpg" }
        let sheet = try ProductSheet.validate((["S. No.,Product Name,Brand,Input Image Urls"] + rows).joined(separator: "\n") + "\n").get()
        let output = sheet.outputCSV { row in ["https://out.test/r\(row.row)-1.jpg"] }
        let (records, problems) = CSVRecords.parse(output)
        #expect(problems.isEmpty)
        let written = records.dropFirst().map { $0.fields[1] }
        #expect(written == ["'=HYPERLINK(\"http://x.test\",\"click\")", "'+1+1", "'-2+3", "'@SUM(A1)", "'\tTab", "'\rReturn", "Plain = text", "'quoted"])
        #expect(records.dropFirst().allSatisfy { $0.fields[4].hasPrefix("https://out.test/") && $0.fields[3].hasPrefix("https://a.test/") })
    }

    @Test func limitsOnRowsAndURLsPerRow() throws {
        let limits = ValidationLimits(maximumRows: 3, maximumURLsPerRow: 2)
        let row = { (n: Int, urls: Int) in "\(n),P\(n),\"" + (1...urls).map { "https://a.test/\(n)-\($0).jpg" }.joined(separator: ", ") + "\"" }
        let header = "S. No.,Product Name,Input Image Urls"
        let fits = ([header] + (1...3).map { row($0, 2) }).joined(separator: "\n")
        #expect((try? ProductSheet.validate(fits, limits: limits).get())?.imageCount == 6)
        let tooMany = ([header] + (1...4).map { row($0, $0 == 2 ? 3 : 1) }).joined(separator: "\n")
        let found = problems(tooMany, limits: limits)
        #expect(found.map(\.code) == [.tooManyRows, .tooManyURLs], "\(found)")
        #expect(found.first?.row == 1 && found.first?.message.contains("4 product rows") == true)
        #expect(found.last?.row == 3 && found.last?.column == "Input Image Urls")
        #expect((try? ProductSheet.validate(tooMany).get()) != nil, "without limits (re-reading an accepted upload) it passes")
    }

    @Test func unclosedQuoteIsMalformed() {
        let found = problems("S. No.,Product Name,Input Image Urls\n1,\"open,https://a.test/1.jpg\n")
        #expect(found.contains { $0.code == .malformedCSV && $0.row == 2 })
    }

    @Test func byteOrderMarkAndBlankLinesAreIgnored() throws {
        let sheet = try ProductSheet.validate("\u{FEFF}S. No.,Product Name,Input Image Urls\n\n1,A,https://a.test/1.jpg\n\n").get()
        #expect(sheet.rows.count == 1)
    }
}

@Suite("Malformed CSV corpus")
struct MalformedCSVCorpusTests {
    /// Problems about one field name its column; those about a whole row or the file do not.
    static let wholeRowCodes: Set<ErrorCode> = [.emptyFile, .wrongFieldCount, .malformedCSV]

    @Test func everyCaseIsRefusedWithItsRowAndColumn() {
        #expect(MalformedCSVs.all.count >= 100)
        for planted in MalformedCSVs.all {
            guard case .failure(let failure) = ProductSheet.validate(bytes: planted.bytes) else {
                Issue.record("\(planted.name) was accepted")
                continue
            }
            #expect(failure.problems.contains { $0.row == planted.row }, "\(planted.name): \(failure.problems)")
            for problem in failure.problems {
                #expect(problem.row >= 1 && !problem.message.isEmpty, "\(planted.name)")
                #expect(problem.column != nil || Self.wholeRowCodes.contains(problem.code), "\(planted.name): \(problem)")
            }
            // A URL with credentials is refused without being echoed.
            #expect(!failure.problems.contains { $0.message.contains("secret") || $0.value?.contains("secret") == true }, "\(planted.name)")
        }
    }
}
