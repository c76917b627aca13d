import Foundation
import HalfsizeCore

/// A job's status as the status API shows it.
/// Encodes as the status API's body, without the internal id and storage key.
public struct JobReport: Sendable, Encodable, Equatable {
    public struct Counts: Sendable, Codable, Equatable {
        public var total: Int
        /// Images with distinct URLs: each downloaded and halved once, the rows naming it again sharing the output.
        public var distinct: Int
        public var pending: Int
        public var downloaded: Int
        public var resized: Int
        public var failed: Int
    }

    public struct Bytes: Sendable, Codable, Equatable {
        /// Bytes downloaded and bytes written, over the resized images.
        public var input: Int64
        public var output: Int64
        /// 1 - output/input: the share of bytes saved.
        public var saving: Double
        /// Images whose output is larger than their input.
        public var grew: Int

        enum CodingKeys: String, CodingKey { case input = "in", output = "out", saving, grew }
    }

    public struct ImageError: Sendable, Codable, Equatable {
        public var itemID: Int64
        public var row: Int
        public var serialNumber: Int64
        public var position: Int
        public var url: String
        public var code: String
        public var message: String
        /// Downloads tried.
        public var attempts: Int

        enum CodingKeys: String, CodingKey {
            case itemID = "item_id", row, serialNumber = "serial_number", position, url, code, message, attempts
        }
    }

    /// An image waiting to be downloaded again after a supplier's transient failure.
    public struct RetryingImage: Sendable, Codable, Equatable {
        public var itemID: Int64
        public var row: Int
        public var position: Int
        public var url: String
        public var attempts: Int
        public var lastError: JobError
        public var nextAttemptAt: String?

        enum CodingKeys: String, CodingKey {
            case itemID = "item_id", row, position, url, attempts, lastError = "last_error", nextAttemptAt = "next_attempt_at"
        }
    }

    /// An image whose halved output is larger than the file it came from (a heavily compressed
    /// original re-encoded at the output quality): kept, and named here so nobody is surprised.
    public struct GrownImage: Sendable, Codable, Equatable {
        public var itemID: Int64
        public var row: Int
        public var position: Int
        public var url: String
        public var bytesIn: Int64
        public var bytesOut: Int64

        enum CodingKeys: String, CodingKey {
            case itemID = "item_id", row, position, url, bytesIn = "bytes_in", bytesOut = "bytes_out"
        }
    }

    public struct JobError: Sendable, Codable, Equatable {
        public var code: String
        public var message: String
    }

    public var id: Int64
    public var reference: JobReference
    public var status: JobStatus
    public var inputFilename: String?
    public var rows: Int
    public var images: Counts
    /// How many images arrived in each format (as their bytes say), once downloaded.
    public var formats: [String: Int]
    public var bytes: Bytes
    public var errors: [ImageError]
    public var retrying: [RetryingImage]
    public var grown: [GrownImage]
    public var error: JobError?
    public var createdAt: String
    public var updatedAt: String
    public var finishedAt: String?
    /// When the retention sweep removed the job's files; nil while they are kept.
    public var filesExpiredAt: String?
    public var outputKey: String?
    /// The webhook given at upload and its delivery attempts; nil without one.
    public var webhook: WebhookReport?

    enum CodingKeys: String, CodingKey {
        case reference, status, inputFilename = "input_filename", rows, images, formats, bytes, errors, retrying, grown, error, webhook
        case createdAt = "created_at", updatedAt = "updated_at", finishedAt = "finished_at", filesExpiredAt = "files_expired_at"
    }
}

/// A recorded transition, for the history view and tests.
public struct JobEvent: Sendable, Codable, Equatable {
    public var itemID: Int64?
    public var stage: String
    public var status: String
    public var errorCode: String?
    public var message: String?
    public var at: String

    enum CodingKeys: String, CodingKey {
        case itemID = "item_id", stage, status, errorCode = "error_code", message, at
    }
}

extension JobStore {
    static let isoTimestamp = #"'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'"#

    /// A job's report from its row (counts kept as images settle) and one query for the images
    /// it names (failed, waiting for a retry, grown), each kind found through its own index: the
    /// cost does not grow with the job's size.
    public func report(reference: JobReference) async throws -> JobReport? {
        try await pool.withConnection { connection in
            let jobs = try connection.query("""
                SELECT id, status, input_filename, row_count, image_count, distinct_count, downloaded_count, resized_count,
                       failed_count, grew_count, bytes_in, bytes_out, formats::text AS formats, output_key, error_code, error_message,
                       to_char(created_at AT TIME ZONE 'UTC', \(Self.isoTimestamp)) AS created_at,
                       to_char(updated_at AT TIME ZONE 'UTC', \(Self.isoTimestamp)) AS updated_at,
                       to_char(finished_at AT TIME ZONE 'UTC', \(Self.isoTimestamp)) AS finished_at,
                       to_char(files_expired_at AT TIME ZONE 'UTC', \(Self.isoTimestamp)) AS files_expired_at,
                       webhook_url IS NOT NULL AS has_webhook
                FROM jobs WHERE reference = $1
                """, [reference.rawValue])
            guard jobs.count == 1, let id = jobs.int(0, "id"),
                  let status = jobs.value(0, "status").flatMap(JobStatus.init(rawValue:)) else { return nil }
            let named = try connection.query("""
                SELECT 'failed' AS kind, id, row_number, serial_number, position, source_url, attempts, error_code AS code,
                       error_message AS message, NULL AS next_attempt_at, bytes_in, bytes_out
                FROM items WHERE job_id = $1 AND status = 'failed'
                UNION ALL
                SELECT 'retrying', id, row_number, serial_number, position, source_url, attempts, last_error_code, last_error_message,
                       to_char(next_attempt_at AT TIME ZONE 'UTC', \(Self.isoTimestamp)), bytes_in, bytes_out
                FROM items WHERE job_id = $1 AND status = 'pending' AND last_error_code IS NOT NULL
                UNION ALL
                SELECT 'grown', id, row_number, serial_number, position, source_url, attempts, NULL, NULL, NULL, bytes_in, bytes_out
                FROM items WHERE job_id = $1 AND grew
                ORDER BY kind, row_number, position
                """, [String(id)])
            let webhook = jobs.bool(0, "has_webhook") == true ? try Self.webhookReport(connection, jobID: id) : nil
            return JobReport(job: jobs, id: id, reference: reference, status: status, named: named, webhook: webhook)
        }
    }

    public func events(jobID: Int64) async throws -> [JobEvent] {
        try await pool.withConnection { connection in
            let rows = try connection.query("""
                SELECT item_id, stage, status, error_code, message, to_char(at AT TIME ZONE 'UTC', \(Self.isoTimestamp)) AS at
                FROM events WHERE job_id = $1 ORDER BY id
                """, [String(jobID)])
            return (0..<rows.count).map { row in
                JobEvent(itemID: rows.int(row, "item_id"), stage: rows.value(row, "stage") ?? "", status: rows.value(row, "status") ?? "",
                         errorCode: rows.value(row, "error_code"), message: rows.value(row, "message"), at: rows.value(row, "at") ?? "")
            }
        }
    }
}

extension JobReport {
    /// Reads the report's row and its named images (see `JobStore.report`).
    init(job: QueryRows, id: Int64, reference: JobReference, status: JobStatus, named: QueryRows, webhook: WebhookReport?) {
        func count(_ column: String) -> Int { Int(job.int(0, column) ?? 0) }
        let total = count("image_count"), downloaded = count("downloaded_count")
        let resized = count("resized_count"), failed = count("failed_count")
        let bytesIn = job.int(0, "bytes_in") ?? 0, bytesOut = job.int(0, "bytes_out") ?? 0
        let formats = job.value(0, "formats").flatMap { try? JSONDecoder().decode([String: Int].self, from: Data($0.utf8)) } ?? [:]
        let rows = { (kind: String) in (0..<named.count).filter { named.value($0, "kind") == kind } }
        func integer(_ row: Int, _ column: String) -> Int { Int(named.int(row, column) ?? 0) }
        func text(_ row: Int, _ column: String) -> String { named.value(row, column) ?? "" }
        self.init(
            id: id, reference: reference, status: status, inputFilename: job.value(0, "input_filename"), rows: count("row_count"),
            images: Counts(total: total, distinct: count("distinct_count"), pending: max(0, total - downloaded - resized - failed),
                           downloaded: downloaded, resized: resized, failed: failed),
            formats: formats,
            bytes: Bytes(input: bytesIn, output: bytesOut,
                         saving: bytesIn > 0 ? (1 - Double(bytesOut) / Double(bytesIn)).rounded(toPlaces: 4) : 0, grew: count("grew_count")),
            errors: rows("failed").map { row in
                ImageError(itemID: named.int(row, "id") ?? 0, row: integer(row, "row_number"), serialNumber: named.int(row, "serial_number") ?? 0,
                           position: integer(row, "position"), url: text(row, "source_url"), code: text(row, "code"),
                           message: text(row, "message"), attempts: integer(row, "attempts"))
            },
            retrying: rows("retrying").map { row in
                RetryingImage(itemID: named.int(row, "id") ?? 0, row: integer(row, "row_number"), position: integer(row, "position"),
                              url: text(row, "source_url"), attempts: integer(row, "attempts"),
                              lastError: JobError(code: text(row, "code"), message: text(row, "message")),
                              nextAttemptAt: named.value(row, "next_attempt_at"))
            },
            grown: rows("grown").map { row in
                GrownImage(itemID: named.int(row, "id") ?? 0, row: integer(row, "row_number"), position: integer(row, "position"),
                           url: text(row, "source_url"), bytesIn: named.int(row, "bytes_in") ?? 0, bytesOut: named.int(row, "bytes_out") ?? 0)
            },
            error: job.value(0, "error_code").map { JobError(code: $0, message: job.value(0, "error_message") ?? "") },
            createdAt: job.value(0, "created_at") ?? "", updatedAt: job.value(0, "updated_at") ?? "",
            finishedAt: job.value(0, "finished_at"), filesExpiredAt: job.value(0, "files_expired_at"),
            outputKey: job.value(0, "output_key"), webhook: webhook)
    }
}

extension Double {
    func rounded(toPlaces places: Int) -> Double {
        let scale = (0..<places).reduce(1.0) { value, _ in value * 10 }
        return (self * scale).rounded() / scale
    }
}
