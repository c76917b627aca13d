import HalfsizeCore

/// A job's status as the status API shows it.
/// Encodes as the status API's body, without the internal id and storage key.
public struct JobReport: Sendable, Encodable, Equatable {
    public struct Counts: Sendable, Codable, Equatable {
        public var total: Int
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

    public func report(reference: JobReference) async throws -> JobReport? {
        try await pool.withConnection { connection in
            let jobs = try connection.query("""
                SELECT id, status, input_filename, row_count, image_count, output_key, error_code, error_message,
                       to_char(created_at AT TIME ZONE 'UTC', \(Self.isoTimestamp)) AS created_at,
                       to_char(updated_at AT TIME ZONE 'UTC', \(Self.isoTimestamp)) AS updated_at,
                       to_char(finished_at AT TIME ZONE 'UTC', \(Self.isoTimestamp)) AS finished_at,
                       to_char(files_expired_at AT TIME ZONE 'UTC', \(Self.isoTimestamp)) AS files_expired_at,
                       webhook_url IS NOT NULL AS has_webhook
                FROM jobs WHERE reference = $1
                """, [reference.rawValue])
            guard jobs.count == 1, let id = jobs.int(0, "id"),
                  let status = jobs.value(0, "status").flatMap(JobStatus.init(rawValue:)) else { return nil }
            let counts = try connection.query("""
                SELECT count(*) FILTER (WHERE status = 'pending') AS pending,
                       count(*) FILTER (WHERE status = 'downloaded') AS downloaded,
                       count(*) FILTER (WHERE status = 'resized') AS resized,
                       count(*) FILTER (WHERE status = 'failed') AS failed,
                       coalesce(sum(bytes_in) FILTER (WHERE status = 'resized'), 0) AS bytes_in,
                       coalesce(sum(bytes_out) FILTER (WHERE status = 'resized'), 0) AS bytes_out,
                       count(*) FILTER (WHERE grew) AS grew
                FROM items WHERE job_id = $1
                """, [String(id)])
            let formats = try connection.query("""
                SELECT format, count(*) AS images FROM items WHERE job_id = $1 AND format IS NOT NULL GROUP BY format ORDER BY format
                """, [String(id)])
            let failures = try connection.query("""
                SELECT id, row_number, serial_number, position, source_url, error_code, error_message, attempts
                FROM items WHERE job_id = $1 AND status = 'failed' ORDER BY row_number, position
                """, [String(id)])
            let retrying = try connection.query("""
                SELECT id, row_number, position, source_url, attempts, last_error_code, last_error_message,
                       to_char(next_attempt_at AT TIME ZONE 'UTC', \(Self.isoTimestamp)) AS next_attempt_at
                FROM items WHERE job_id = $1 AND status = 'pending' AND last_error_code IS NOT NULL ORDER BY row_number, position
                """, [String(id)])
            let grown = try connection.query("""
                SELECT id, row_number, position, source_url, bytes_in, bytes_out
                FROM items WHERE job_id = $1 AND grew ORDER BY row_number, position
                """, [String(id)])
            let webhook = jobs.value(0, "has_webhook") == "t" ? try Self.webhookReport(connection, jobID: id) : nil
            let bytesIn = counts.int(0, "bytes_in") ?? 0
            let bytesOut = counts.int(0, "bytes_out") ?? 0
            let jobError = jobs.value(0, "error_code").map { JobReport.JobError(code: $0, message: jobs.value(0, "error_message") ?? "") }
            return JobReport(
                id: id, reference: reference, status: status, inputFilename: jobs.value(0, "input_filename"),
                rows: Int(jobs.int(0, "row_count") ?? 0),
                images: .init(total: Int(jobs.int(0, "image_count") ?? 0), pending: Int(counts.int(0, "pending") ?? 0),
                              downloaded: Int(counts.int(0, "downloaded") ?? 0), resized: Int(counts.int(0, "resized") ?? 0),
                              failed: Int(counts.int(0, "failed") ?? 0)),
                formats: Dictionary(uniqueKeysWithValues: (0..<formats.count).compactMap { row in
                    formats.value(row, "format").map { ($0, Int(formats.int(row, "images") ?? 0)) }
                }),
                bytes: .init(input: bytesIn, output: bytesOut,
                             saving: bytesIn > 0 ? (1 - Double(bytesOut) / Double(bytesIn) ).rounded(toPlaces: 4) : 0,
                             grew: Int(counts.int(0, "grew") ?? 0)),
                errors: (0..<failures.count).map { row in
                    JobReport.ImageError(itemID: failures.int(row, "id")!, row: Int(failures.int(row, "row_number")!),
                                         serialNumber: failures.int(row, "serial_number")!, position: Int(failures.int(row, "position")!),
                                         url: failures.value(row, "source_url") ?? "", code: failures.value(row, "error_code") ?? "",
                                         message: failures.value(row, "error_message") ?? "",
                                         attempts: Int(failures.int(row, "attempts") ?? 0))
                },
                retrying: (0..<retrying.count).map { row in
                    JobReport.RetryingImage(itemID: retrying.int(row, "id") ?? 0, row: Int(retrying.int(row, "row_number") ?? 0),
                                            position: Int(retrying.int(row, "position") ?? 0), url: retrying.value(row, "source_url") ?? "",
                                            attempts: Int(retrying.int(row, "attempts") ?? 0),
                                            lastError: .init(code: retrying.value(row, "last_error_code") ?? "",
                                                             message: retrying.value(row, "last_error_message") ?? ""),
                                            nextAttemptAt: retrying.value(row, "next_attempt_at"))
                },
                grown: (0..<grown.count).map { row in
                    JobReport.GrownImage(itemID: grown.int(row, "id")!, row: Int(grown.int(row, "row_number")!),
                                         position: Int(grown.int(row, "position")!), url: grown.value(row, "source_url") ?? "",
                                         bytesIn: grown.int(row, "bytes_in") ?? 0, bytesOut: grown.int(row, "bytes_out") ?? 0)
                },
                error: jobError,
                createdAt: jobs.value(0, "created_at") ?? "", updatedAt: jobs.value(0, "updated_at") ?? "",
                finishedAt: jobs.value(0, "finished_at"), filesExpiredAt: jobs.value(0, "files_expired_at"),
                outputKey: jobs.value(0, "output_key"), webhook: webhook)
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

extension Double {
    func rounded(toPlaces places: Int) -> Double {
        let scale = (0..<places).reduce(1.0) { value, _ in value * 10 }
        return (self * scale).rounded() / scale
    }
}
