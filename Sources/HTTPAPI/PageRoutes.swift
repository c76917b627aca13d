import Foundation
import HTTPCommon
import HalfsizeCore
import Hummingbird
import JobStore
import Logging
import Operations
import Pipeline
import ProductCSV

/// The pages people use, server-rendered from `Templates/` and working without JavaScript: the
/// upload form, the page a successful upload redirects to, the problems of a refused CSV, and the
/// status page a reference number leads to.
extension IngestAPI {
    func addPages(to router: Router<PeerRequestContext>) {
        router.get("/") { _, _ in page(.ok, "upload", UploadView(maximumMegabytes: maximumUploadBytes >> 20)) }
        router.get("/sample.csv") { _, _ in
            Response(status: .ok, headers: [.contentType: "text/csv; charset=utf-8", .contentDisposition: "attachment; filename=\"halfsize-sample.csv\""],
                     body: .init(byteBuffer: ByteBuffer(string: UploadView.sampleCSV)))
        }
        router.get("/lookup") { request, _ in lookup(request.uri.queryParameters.get("reference")) }
        router.post("/jobs") { request, context in await uploadFromForm(request, logger: context.logger) }
        router.get("/jobs/:reference") { _, context in await statusPage(context.parameters.get("reference")) }
        router.get("/jobs/:reference/uploaded") { _, context in await uploadedPage(context.parameters.get("reference")) }
        // Changes state without an upload: behind the admin guard (a browser is asked for the token).
        router.group("/jobs/:reference/retry").add(middleware: AdminAccessMiddleware<PeerRequestContext>(token: adminToken, asksBrowsers: true))
            .post { _, context in await retryFromPage(context.parameters.get("reference")) }
    }

    func page(_ status: HTTPResponse.Status, _ template: String, _ view: Any) -> Response {
        HTMLPage.response(status, pages.render(view, withTemplate: template))
    }

    func notFound(_ text: String?) -> Response {
        page(.notFound, "not-found", NotFoundView(reference: String((text ?? "").prefix(64))))
    }

    /// The lookup box: tolerant of spaces and lower case, as people copy references. Hummingbird
    /// hands over the query value as sent, so a form's `+` and `%20` are decoded here.
    func lookup(_ text: String?) -> Response {
        let formEncoded = (text ?? "").replacingOccurrences(of: "+", with: " ")
        let typed = (formEncoded.removingPercentEncoding ?? formEncoded).trimmingCharacters(in: .whitespacesAndNewlines).uppercased()
        guard let reference = JobReference(typed) else { return notFound(text) }
        return Response(status: .seeOther, headers: [.location: "/jobs/\(reference)"])
    }

    /// 303 to the "uploaded" page, so reloading it never uploads twice; a refused CSV gets its
    /// problems as a page (422).
    func uploadFromForm(_ request: Request, logger: Logger) async -> Response {
        switch await receiveUpload(request, logger: logger) {
        case .accepted(let reference, _):
            return Response(status: .seeOther, headers: [.location: "/jobs/\(reference)/uploaded"])
        case .invalid(let failure):
            return page(.unprocessableContent, "problems", ProblemsView(failure))
        case .refused(let status, let error):
            return page(status, "error", ErrorView(error))
        }
    }

    /// The status page's retry button: 303 back to the status page, which shows the job running.
    func retryFromPage(_ text: String?) async -> Response {
        guard let reference = text.flatMap(JobReference.init) else { return notFound(text) }
        do {
            switch try await intake.retry(reference) {
            case .unknownJob: return notFound(text)
            case .refused(let error): return page(Self.status(refusing: error), "error", ErrorView(error))
            case .retrying: return Response(status: .seeOther, headers: [.location: "/jobs/\(reference)"])
            }
        } catch {
            return page(.serviceUnavailable, "error", ErrorView(HalfsizeError(.databaseError, "the job cannot be retried now: \(error)")))
        }
    }

    func uploadedPage(_ text: String?) async -> Response {
        await jobPage(text) { report in
            page(.ok, "uploaded", UploadedView(reference: report.reference.rawValue, images: report.images.total, filename: report.inputFilename))
        }
    }

    func statusPage(_ text: String?) async -> Response {
        await jobPage(text) { report in
            let thumbnails = report.filesExpiredAt == nil ? try await store.sampleOutputNames(jobID: report.id, limit: 6) : []
            return page(.ok, "status", StatusView(report, thumbnails: thumbnails.map { urls.image(report.reference, name: $0) }, urls: urls))
        }
    }

    /// A page about one job: the 404 page for a malformed or unknown reference, an error page when
    /// the database cannot answer.
    func jobPage(_ text: String?, _ render: (JobReport) async throws -> Response) async -> Response {
        guard let reference = text.flatMap(JobReference.init) else { return notFound(text) }
        do {
            guard let report = try await store.report(reference: reference) else { return notFound(text) }
            return try await render(report)
        } catch {
            return page(.serviceUnavailable, "error", ErrorView(HalfsizeError(.databaseError, "the job cannot be read: \(error)")))
        }
    }
}

// MARK: - What the templates show (stored properties only: templates read them through Mirror)

struct UploadView {
    var maximumMegabytes: Int

    static let sampleCSV = """
        S. No.,Product Name,Input Image Urls\r
        1,Linen shirt,"https://example.com/images/shirt-front.jpg, https://example.com/images/shirt-back.jpg"\r
        2,Canvas bag,https://example.com/images/bag.png\r

        """
}

struct UploadedView {
    var reference: String
    var images: Int
    var filename: String?
}

struct NotFoundView {
    var reference: String
}

struct ErrorView {
    var code: String
    var message: String
    var advice: String

    init(_ error: HalfsizeError) {
        code = error.code.rawValue
        message = error.message
        advice = ErrorAdvice.text(for: error.code.rawValue)
    }
}

struct ProblemsView {
    struct Problem { var row: Int, column: String, value: String, code: String, message: String, advice: String }
    static let listed = 200

    var total: Int
    var capped: Bool
    var listed: Int
    var problems: [Problem]

    init(_ failure: ValidationFailure) {
        total = failure.problems.count
        capped = failure.problems.count > Self.listed
        listed = min(failure.problems.count, Self.listed)
        problems = failure.problems.prefix(Self.listed).map { problem in
            Problem(row: problem.row, column: problem.column ?? "—", value: problem.value ?? "", code: problem.code.rawValue, message: problem.message,
                    advice: ErrorAdvice.text(for: problem.code.rawValue))
        }
    }
}

struct StatusView {
    struct Failure { var row: Int, position: Int, url: String, code: String, message: String, advice: String }
    struct Segment { var name: String, style: String, count: Int, percent: String }

    var reference: String
    var status: String
    var statusText: String
    var running: Bool
    var total: Int
    /// Images whose URL another row names too (nil when none).
    var repeated: Int?
    var segments: [Segment]
    var saving: String?
    var failures: [Failure]
    var hasFailures: Bool
    var retrying: Int?
    var thumbnails: [String]
    var hasThumbnails: Bool
    var outputCSV: String?
    var filesExpired: Bool
    var retryable: Bool
    var webhook: Webhook?

    struct Webhook {
        struct Attempt { var attempt: Int, at: String, answer: String, problem: String }
        var url: String
        var stateText: String
        var attempts: [Attempt]
        var hasAttempts: Bool

        init(_ report: WebhookReport) {
            url = report.url
            stateText = switch report.state {
            case "delivered": "Told (delivered) at"
            case "failed": "Could not be told (failed, no more attempts):"
            case "pending": "Being told (pending\(report.nextAttemptAt.map { ", next attempt at \($0) UTC" } ?? "")):"
            default: "Will be told when the job ends:"
            }
            attempts = report.attempts.map { attempt in
                Attempt(attempt: attempt.attempt, at: attempt.at, answer: attempt.statusCode.map { "HTTP \($0)" } ?? "no answer",
                        problem: attempt.error.map { "\($0.message) (\($0.code))" } ?? "")
            }
            hasAttempts = !attempts.isEmpty
        }
    }

    init(_ report: JobReport, thumbnails: [String], urls: PublicURLs) {
        reference = report.reference.rawValue
        status = report.status.rawValue
        statusText = Self.words[report.status] ?? report.status.rawValue
        running = !report.status.isFinal
        total = report.images.total
        repeated = report.images.total > report.images.distinct ? report.images.total - report.images.distinct : nil
        let counts = report.images
        let parts = [("halved", "halved", counts.resized), ("failed", "failed", counts.failed),
                     ("downloaded, waiting to be halved", "downloaded", counts.downloaded), ("waiting to be downloaded", "waiting", counts.pending)]
        segments = parts.map { name, style, count in
            Segment(name: name, style: style, count: count,
                    percent: String(format: "%.1f", counts.total == 0 ? 0 : Double(count) * 100 / Double(counts.total)))
        }
        saving = report.bytes.output > 0
            ? "\(QueueTable.bytes(report.bytes.input)) in, \(QueueTable.bytes(report.bytes.output)) out: \(Int((report.bytes.saving * 100).rounded()))% smaller"
            : nil
        failures = report.errors.map { error in
            Failure(row: error.row, position: error.position, url: error.url, code: error.code, message: error.message,
                    advice: ErrorAdvice.text(for: error.code))
        }
        hasFailures = !failures.isEmpty
        retrying = report.retrying.isEmpty ? nil : report.retrying.count
        self.thumbnails = thumbnails
        hasThumbnails = !thumbnails.isEmpty
        filesExpired = report.filesExpiredAt != nil
        outputCSV = urls.outputCSV(of: report)
        retryable = JobStatus.retryable.contains(report.status) && report.images.failed > 0 && !filesExpired
        webhook = report.webhook.map(Webhook.init)
    }

    static let words: [JobStatus: String] = [
        .queued: "Queued: the images will be downloaded shortly.",
        .processing: "Working: downloading and halving the images.",
        .writing: "Almost done: writing the output CSV.",
        .completed: "Done: every image was halved.",
        .completedWithErrors: "Done, with some images that could not be halved (listed below).",
        .failed: "Failed: the job could not be finished.",
    ]
}

/// What to do about each error code, in words, for the pages (the API gives the code and message).
enum ErrorAdvice {
    static func text(for code: String) -> String {
        switch ErrorCode(rawValue: code) {
        case .emptyFile: "The file is empty: export the sheet again with its rows."
        case .tooManyRows: "Split the sheet into several files and upload each."
        case .tooManyURLs: "Keep the product's main images, or split them over several rows."
        case .missingHeader: "Add the missing column to the first line, spelled as in the sample CSV."
        case .wrongFieldCount: "This line has more or fewer cells than the header: check for an unquoted comma."
        case .invalidSerialNumber: "S. No. must be a whole number."
        case .duplicateSerialNumber: "Give every row its own S. No."
        case .emptyProductName: "Fill in the product name."
        case .noImageURL: "Put at least one image address in Input Image Urls."
        case .invalidURL: "Use a full address starting with http:// or https://; separate several with commas inside quotes."
        case .malformedCSV: "The file is not valid CSV here (often a quote that is never closed): save it again as CSV UTF-8."
        case .invalidCSV, .invalidUpload: "Choose a .csv file saved as CSV UTF-8 and upload it again."
        case .uploadTooLarge: "Split the sheet into smaller files and upload each."
        case .invalidWebhookURL: "Give the full address (https://…) the job's end should be posted to, or leave the field empty."
        case .blockedAddress: "The address points into a private network, which is not downloaded: use the image's public address."
        case .httpStatus: "The supplier's server refused the image: check the address opens in a browser."
        case .downloadTimeout: "The supplier's server was too slow: try again later, or ask the supplier."
        case .downloadTooLarge: "The file is too large to download: use a smaller version of the image."
        case .downloadFailed: "The image could not be fetched (the server could not be reached): check the address."
        case .tlsError: "The supplier's secure (https) server has a certificate problem: tell the supplier what the message says."
        case .unsupportedFormat: "Only JPEG, PNG, WebP, GIF, AVIF, TIFF and BMP images can be halved: convert the image or link another."
        case .corruptImage: "The file is damaged or not really an image: save it again from the original."
        case .tooLarge: "The image has too many pixels to halve: use a smaller version."
        case .outOfMemory: "The image was too large to halve at this moment: retry later."
        case .deadLettered, .retriesExhausted, .brokerUnavailable, .databaseError, .storageError:
            "Our side had a problem with this image: try again later; if it persists, tell the operators this code."
        case .notFound: "Check the reference number: it has 26 letters and digits."
        case .filesExpired: "The files were removed after the retention period: upload the CSV again."
        case .notReady: "Wait until the job has finished, then try again."
        default: "Tell the operators this code."
        }
    }
}
