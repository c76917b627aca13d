import Foundation
import HTTPCommon
import HalfsizeCore
import Hummingbird
import ImageCodecs
import JobStore
import Logging
import Messaging
import Mustache
import Operations
import Pipeline
import ProductCSV
import Storage

/// ingest's HTTP surface: upload, status, output CSV, images, health and the upload page.
public struct IngestAPI: Sendable {
    let intake: JobIntake
    let store: JobStore
    let objects: any ObjectStore
    let broker: BrokerConnection
    let queues: QueueMonitor
    let urls: PublicURLs
    let maximumUploadBytes: Int
    let adminToken: String?
    let pages: MustacheLibrary
    /// The OpenAPI document served at `/openapi.yaml`.
    let contract: ByteBuffer
    let throughput: ThroughputHistory

    public init(intake: JobIntake, store: JobStore, objects: any ObjectStore, broker: BrokerConnection, queues: QueueMonitor,
                urls: PublicURLs, maximumUploadBytes: Int, adminToken: String?, pages: MustacheLibrary, contract: ByteBuffer,
                throughput: ThroughputHistory) {
        self.adminToken = adminToken
        self.intake = intake
        self.store = store
        self.objects = objects
        self.broker = broker
        self.queues = queues
        self.urls = urls
        self.maximumUploadBytes = maximumUploadBytes
        self.pages = pages
        self.contract = contract
        self.throughput = throughput
    }

    /// The page templates shipped with ingest (`Templates/*.mustache`).
    public static func loadPages() async throws -> MustacheLibrary {
        guard let directory = Bundle.module.url(forResource: "Templates", withExtension: nil) else {
            throw HalfsizeError(.invalidConfiguration, "the page templates are missing from ingest's resources")
        }
        return try await MustacheLibrary(directory: directory.path)
    }

    /// The API's OpenAPI 3.1 document (`OpenAPI/openapi.yaml`).
    public static func loadContract() throws -> ByteBuffer {
        guard let url = Bundle.module.url(forResource: "OpenAPI/openapi", withExtension: "yaml"),
              let data = FileManager.default.contents(atPath: url.path) else {
            throw HalfsizeError(.invalidConfiguration, "the OpenAPI document is missing from ingest's resources")
        }
        return ByteBuffer(bytes: data)
    }

    public func router() -> Router<PeerRequestContext> {
        let router = Router(context: PeerRequestContext.self)
        router.add(middleware: MetricsMiddleware())
        addPages(to: router)
        router.get("/healthz") { _, _ in await health() }
        router.get("/openapi.yaml") { _, _ in
            Response(status: .ok, headers: [.contentType: "application/yaml"], body: .init(byteBuffer: contract))
        }
        let admin = AdminAccessMiddleware<PeerRequestContext>(token: adminToken)
        router.group("/api/v1/queues").add(middleware: admin).get { _, _ in await queueOverview() }
        router.group("/metrics").add(middleware: admin).get { _, _ in Telemetry.exposition() }
        router.group("/ops").add(middleware: AdminAccessMiddleware<PeerRequestContext>(token: adminToken, asksBrowsers: true))
            .get { _, _ in await opsPage() }
        router.post("/api/v1/jobs") { request, context in await upload(request, logger: context.logger) }
        router.get("/api/v1/jobs/:reference") { _, context in await status(context.parameters.get("reference")) }
        router.group("/api/v1/jobs/:reference/retry").add(middleware: admin)
            .post { _, context in await retry(context.parameters.get("reference")) }
        router.get("/api/v1/jobs/:reference/output.csv") { _, context in await outputCSV(context.parameters.get("reference")) }
        router.get("/images/:reference/:name") { _, context in
            await image(context.parameters.get("reference"), context.parameters.get("name"))
        }
        return router
    }

    // MARK: - Handlers

    /// The most problems a 422 lists (its message gives the total): a broken 100,000-row file
    /// would otherwise answer megabytes.
    static let listedProblems = 1000

    /// What an upload came to, for the API and the form alike.
    enum UploadOutcome {
        case accepted(JobReference, images: Int)
        case invalid(ValidationFailure)
        case refused(HTTPResponse.Status, HalfsizeError)
    }

    /// What an upload carried.
    struct UploadForm {
        var csv: [UInt8]
        var filename: String?
        var webhookURL: String?
    }

    /// Reads the CSV from a multipart form (field `file`, optional field `webhook_url`) or a
    /// `text/csv` body (optional query parameter `webhook_url`) and submits it.
    func receiveUpload(_ request: Request, logger: Logger) async -> UploadOutcome {
        let form: UploadForm
        switch await readUpload(request) {
        case .success(let read): form = read
        case .failure(let refusal): return .refused(refusal.status, refusal.error)
        }
        do {
            switch try await intake.submit(csv: form.csv, filename: form.filename, webhookURL: form.webhookURL) {
            case .accepted(let reference, let images): return .accepted(reference, images: images)
            case .invalid(let failure): return .invalid(failure)
            }
        } catch let error as HalfsizeError {
            return .refused(.serviceUnavailable, error)
        } catch {
            logger.error("upload failed", metadata: ["error": "\(error)"])
            return .refused(.serviceUnavailable, HalfsizeError(.databaseError, "the job could not be stored: \(error)"))
        }
    }

    struct Refusal: Error {
        var status: HTTPResponse.Status
        var error: HalfsizeError
    }

    /// Streams the body in: a declared Content-Length over the limit is refused before a byte is
    /// read, and a body that passes the limit while arriving is refused there.
    func readUpload(_ request: Request) async -> Result<UploadForm, Refusal> {
        let tooLarge = Refusal(status: .contentTooLarge,
                               error: HalfsizeError(.uploadTooLarge, "the upload is larger than \(maximumUploadBytes) bytes; split the CSV"))
        if let declared = request.headers[.contentLength].flatMap(Int.init), declared > maximumUploadBytes {
            return .failure(tooLarge)
        }
        let contentType = request.headers[.contentType] ?? ""
        // Hummingbird hands query values over as sent.
        let queryWebhook = request.uri.queryParameters.get("webhook_url").map { String($0).removingPercentEncoding ?? String($0) }
        do {
            if let boundary = MultipartFormReader.boundary(contentType: contentType) {
                let reader = MultipartFormReader(boundary: boundary)
                guard try await streamBody(request, { try reader.consume($0) }) else { return .failure(tooLarge) }
                let parts = try reader.finish()
                guard let file = parts.first(where: { $0.name == "file" }) else {
                    return .failure(Refusal(status: .badRequest, error: HalfsizeError(.invalidUpload,
                        "the form has no \"file\" field; send the CSV as the field named file")))
                }
                let webhook = parts.first { $0.name == "webhook_url" }.map { String(decoding: $0.body, as: UTF8.self) } ?? queryWebhook
                return try .success(UploadForm(csv: file.body, filename: file.filename.map { String($0.prefix(255)) },
                                               webhookURL: WebhookAddress.validated(webhook)))
            }
            let type = contentType.lowercased()
            guard type.hasPrefix("text/csv") || type.hasPrefix("application/csv") else {
                return .failure(Refusal(status: .unsupportedMediaType, error: HalfsizeError(.invalidUpload,
                    "send the CSV as multipart/form-data (field \"file\") or with Content-Type text/csv, not \"\(contentType.prefix(100))\"")))
            }
            var csv: [UInt8] = []
            guard try await streamBody(request, { csv.append(contentsOf: $0.readableBytesView) }) else { return .failure(tooLarge) }
            return try .success(UploadForm(csv: csv, filename: nil, webhookURL: WebhookAddress.validated(queryWebhook)))
        } catch let error as HalfsizeError {
            return .failure(Refusal(status: error.code == .invalidWebhookURL ? .unprocessableContent : .badRequest, error: error))
        } catch {
            return .failure(Refusal(status: .badRequest, error: HalfsizeError(.invalidUpload, "the upload could not be read: \(error)")))
        }
    }

    /// Hands each chunk of the body to `consume` as it arrives; false (and no more read) once the
    /// body passes the upload limit.
    func streamBody(_ request: Request, _ consume: (ByteBuffer) throws -> Void) async throws -> Bool {
        var received = 0
        for try await chunk in request.body {
            received += chunk.readableBytes
            guard received <= maximumUploadBytes else { return false }
            try consume(chunk)
        }
        return true
    }

    func upload(_ request: Request, logger: Logger) async -> Response {
        switch await receiveUpload(request, logger: logger) {
        case .accepted(let reference, let images):
            let payload: [String: JSONValue] = [
                "reference": .string(reference.rawValue), "status": .string(JobStatus.queued.rawValue),
                "status_url": .string(urls.status(reference)), "images": .number(Double(images)),
            ]
            var response = JSONBody.response(.accepted, payload)
            response.headers[.location] = urls.status(reference)
            return response
        case .invalid(let failure):
            let listed = failure.problems.prefix(Self.listedProblems)
            let summary = listed.count < failure.problems.count ? "\(failure.summary); the first \(listed.count) are listed" : failure.summary
            return APIError.response(.unprocessableContent, HalfsizeError(.invalidCSV, summary), details: Array(listed))
        case .refused(let status, let error):
            return APIError.response(status, error)
        }
    }

    func status(_ text: String?) async -> Response {
        guard let reference = text.flatMap(JobReference.init) else { return APIError.unknownJob(text) }
        do {
            guard let report = try await store.report(reference: reference) else { return APIError.unknownJob(text) }
            return JSONBody.response(.ok, StatusBody(report: report, urls: urls))
        } catch {
            return APIError.response(.serviceUnavailable, HalfsizeError(.databaseError, "the job's status cannot be read: \(error)"))
        }
    }

    /// 202 with the number of images sent again; 404, 409 (not finished, or nothing failed) or
    /// 410 (files removed) otherwise.
    func retry(_ text: String?) async -> Response {
        guard let reference = text.flatMap(JobReference.init) else { return APIError.unknownJob(text) }
        do {
            switch try await intake.retry(reference) {
            case .unknownJob:
                return APIError.unknownJob(text)
            case .refused(let error):
                return APIError.response(Self.status(refusing: error), error)
            case .retrying(_, let itemIDs):
                let payload: [String: JSONValue] = [
                    "reference": .string(reference.rawValue), "status": .string(JobStatus.processing.rawValue),
                    "status_url": .string(urls.status(reference)), "images": .number(Double(itemIDs.count)),
                ]
                return JSONBody.response(.accepted, payload)
            }
        } catch {
            return APIError.response(.serviceUnavailable, HalfsizeError(.databaseError, "the job cannot be retried now: \(error)"))
        }
    }

    /// A refused retry: 410 once the files are gone, else 409 (running, or nothing failed).
    static func status(refusing error: HalfsizeError) -> HTTPResponse.Status {
        error.code == .filesExpired ? .gone : .conflict
    }

    func outputCSV(_ text: String?) async -> Response {
        guard let reference = text.flatMap(JobReference.init) else { return APIError.unknownJob(text) }
        do {
            guard let report = try await store.report(reference: reference) else { return APIError.unknownJob(text) }
            if let expired = report.filesExpiredAt { return APIError.filesExpired(reference, at: expired) }
            guard report.status.isFinal, let key = report.outputKey, let bytes = try await objects.get(key) else {
                return APIError.response(.conflict, HalfsizeError(.notReady,
                    "the output CSV is not ready: the job is \(report.status.rawValue); poll \(urls.status(reference))"))
            }
            return Response(status: .ok, headers: [
                .contentType: "text/csv; charset=utf-8",
                .contentDisposition: "attachment; filename=\"halfsize-\(reference).csv\"",
            ], body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
        } catch {
            return APIError.response(.serviceUnavailable, HalfsizeError(.storageError, "the output CSV cannot be read: \(error)"))
        }
    }

    func image(_ referenceText: String?, _ name: String?) async -> Response {
        guard let reference = referenceText.flatMap(JobReference.init), let name, ObjectKey.isImageName(name) else {
            return APIError.response(.notFound, HalfsizeError(.notFound, "no such image"))
        }
        do {
            guard let bytes = try await objects.get(ObjectKey.image(reference, name: name)) else {
                if let expired = try await store.report(reference: reference)?.filesExpiredAt {
                    return APIError.filesExpired(reference, at: expired)
                }
                return APIError.response(.notFound, HalfsizeError(.notFound, "no such image"))
            }
            return Response(status: .ok, headers: [
                .contentType: ImageFormat.fromExtension(name).mediaType,
                // Names are unique per job and never rewritten with other content.
                .cacheControl: "public, max-age=31536000, immutable",
            ], body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
        } catch {
            return APIError.response(.serviceUnavailable, HalfsizeError(.storageError, "the image cannot be read: \(error)"))
        }
    }

    func queueOverview() async -> Response {
        do {
            return JSONBody.response(.ok, try await queues.overview())
        } catch {
            return APIError.response(.serviceUnavailable, Self.overviewFailure(error))
        }
    }

    func opsPage() async -> Response {
        do {
            return page(.ok, "ops", OpsPage(overview: try await queues.overview(), history: throughput.all, refreshSeconds: 5))
        } catch {
            return page(.serviceUnavailable, "error", ErrorView(Self.overviewFailure(error)))
        }
    }

    /// Why the queue view could not be built, keeping the failing part's code: a HalfsizeError
    /// comes from the broker or storage, anything else from the pipeline's counts in PostgreSQL.
    static func overviewFailure(_ error: any Error) -> HalfsizeError {
        if let error = error as? HalfsizeError { return HalfsizeError(error.code, "the queues cannot be read: \(error.message)") }
        return HalfsizeError(.databaseError, "the pipeline's counts cannot be read: \(error)")
    }

    func health() async -> Response {
        await HealthCheck(brokerConnected: { [broker] in broker.isConnected }, pingDatabase: { [store] in try await store.ping() }).response()
    }
}

/// The status API's body: the report plus the URLs a client follows.
struct StatusBody: Encodable {
    var report: JobReport
    var urls: PublicURLs

    enum Keys: String, CodingKey { case statusURL = "status_url", outputCSVURL = "output_csv_url" }

    func encode(to encoder: any Encoder) throws {
        try report.encode(to: encoder)
        var container = encoder.container(keyedBy: Keys.self)
        try container.encode(urls.status(report.reference), forKey: .statusURL)
        if let url = urls.outputCSV(of: report) {
            try container.encode(url, forKey: .outputCSVURL)
        } else {
            try container.encodeNil(forKey: .outputCSVURL)
        }
    }
}

extension APIError {
    static func unknownJob(_ text: String?) -> Response {
        response(.notFound, HalfsizeError(.notFound, "no job has the reference \(text ?? "")"))
    }

    static func filesExpired(_ reference: JobReference, at time: String) -> Response {
        response(.gone, HalfsizeError(.filesExpired,
            "the files of job \(reference) were removed at \(time), after the retention period; its status is still kept"))
    }
}

enum HTMLPage {
    static func response(_ status: HTTPResponse.Status, _ html: String?) -> Response {
        Response(status: html == nil ? .internalServerError : status, headers: [.contentType: "text/html; charset=utf-8", .cacheControl: "no-store"],
                 body: .init(byteBuffer: ByteBuffer(string: html ?? "<!doctype html><title>halfsize</title><p>the page template is missing</p>")))
    }
}
