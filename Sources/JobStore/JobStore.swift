import Foundation
import HalfsizeCore
import Logging

/// The pipeline's stages, as recorded in the events table.
public enum Stage: String, Sendable, Codable {
    case ingest, downloader, resizer
    case csvWriter = "csv-writer"
    /// csv-writer's consumer of `halfsize.dead`.
    case deadLetters = "dead-letters"
    /// csv-writer's sweep for work that stopped moving.
    case reaper
    /// csv-writer's sweep for files past their retention.
    case retention
    /// csv-writer's consumer of `halfsize.webhook`, which tells a job's webhook it ended.
    case webhook
}

public struct NewItem: Sendable, Equatable {
    public var rowNumber: Int
    public var serialNumber: Int64
    public var position: Int
    public var sourceURL: String

    public init(rowNumber: Int, serialNumber: Int64, position: Int, sourceURL: String) {
        self.rowNumber = rowNumber
        self.serialNumber = serialNumber
        self.position = position
        self.sourceURL = sourceURL
    }
}

public struct CreatedJob: Sendable {
    public var id: Int64
    public var reference: JobReference
    /// The items to download: one per distinct URL (the others follow them).
    public var downloads: [QueuedItem]
    public var itemIDs: [Int64] { downloads.map(\.id) }
}

/// An item sent to the downloader, with what its message carries.
public struct QueuedItem: Sendable, Equatable {
    public var id: Int64
    public var rowNumber: Int
    public var position: Int
    public var sourceURL: String
}

/// One image of a job, as the workers need it.
public struct ItemRecord: Sendable, Equatable {
    public var id: Int64
    public var jobID: Int64
    public var jobReference: JobReference
    public var rowNumber: Int
    public var serialNumber: Int64
    public var position: Int
    public var sourceURL: String
    public var status: ItemStatus
    public var format: String?
    public var rawKey: String?
    public var outputName: String?
    public var errorCode: String?
    /// Downloads tried so far.
    public var attempts: Int
}

/// What a resize produced, recorded on the item.
public struct ResizeRecord: Sendable, Equatable {
    public var outputKey: String
    public var outputName: String
    public var bytesIn: Int
    public var bytesOut: Int
    public var widthIn: Int, heightIn: Int
    public var widthOut: Int, heightOut: Int
    public var grew: Bool

    public init(outputKey: String, outputName: String, bytesIn: Int, bytesOut: Int, widthIn: Int, heightIn: Int,
                widthOut: Int, heightOut: Int, grew: Bool) {
        self.outputKey = outputKey
        self.outputName = outputName
        self.bytesIn = bytesIn
        self.bytesOut = bytesOut
        self.widthIn = widthIn
        self.heightIn = heightIn
        self.widthOut = widthOut
        self.heightOut = heightOut
        self.grew = grew
    }
}

public enum ItemOutcome: Sendable {
    case resized(ResizeRecord)
    case failed(HalfsizeError)
}

/// The result of settling an item. `applied` is false when the item had already settled (a
/// redelivered message). `jobReadyForCSV` is true when every image has settled and the output
/// is not written yet: the caller publishes to the csv queue. Exactly one first-time settlement
/// sees the count reach zero; a redelivery may see it again, and the csv-writer is idempotent.
public struct Settlement: Sendable, Equatable {
    public var applied: Bool
    public var jobReadyForCSV: Bool
}

/// A job that has just reached a final state. `notifies` is true when it has a webhook, now due.
public struct FinishedJob: Sendable, Equatable {
    public var id: Int64
    public var reference: JobReference
    public var status: JobStatus
    public var notifies: Bool
}

public struct JobForWriting: Sendable {
    public var id: Int64
    public var reference: JobReference
    public var inputKey: String
}

public struct WrittenItem: Sendable {
    public var rowNumber: Int
    public var position: Int
    public var status: ItemStatus
    public var outputName: String?
}

/// Job and image status in PostgreSQL. Every change is conditional on the status it expects,
/// so a redelivered message changes nothing, and every transition appends an event.
public struct JobStore: Sendable {
    public let pool: DatabasePool
    let settles: SettleBatches

    public init(pool: DatabasePool) {
        self.pool = pool
        self.settles = SettleBatches(pool: pool)
    }

    public func ping() async throws {
        _ = try await pool.withConnection { try $0.query("SELECT 1") }
    }

    /// Creates the job and one pending item per image in one transaction. The job is in the outbox
    /// (`published_at` NULL) until `markPublished`: the relay publishes it if its creator cannot.
    public func createJob(reference: JobReference, inputFilename: String?, inputKey: String, rowCount: Int,
                          items: [NewItem], webhookURL: String? = nil) async throws -> CreatedJob {
        try await pool.transaction { connection in
            let job = try connection.query("""
                INSERT INTO jobs (reference, status, input_filename, input_key, row_count, image_count, remaining, webhook_url)
                VALUES ($1, 'queued', $2, $3, $4, $5, $5, $6) RETURNING id
                """, [reference.rawValue, inputFilename, inputKey, String(rowCount), String(items.count), webhookURL])
            guard let jobID = job.int(0, "id") else { throw DatabaseError(sqlState: nil, message: "no job id returned", connectionLost: false) }
            let inserted = try connection.query("""
                INSERT INTO items (job_id, row_number, serial_number, position, source_url, status)
                SELECT $1, r, s, p, u, 'pending' FROM unnest($2::int[], $3::bigint[], $4::int[], $5::text[]) WITH ORDINALITY AS t(r, s, p, u, n)
                ORDER BY n RETURNING id, row_number, position, source_url
                """, [String(jobID), PostgresArray.literal(items.map(\.rowNumber)), PostgresArray.literal(items.map(\.serialNumber)),
                      PostgresArray.literal(items.map(\.position)), PostgresArray.literal(items.map(\.sourceURL))])
            // A URL named again follows the first item that names it: one download, one halving.
            let followers = try connection.query("""
                WITH firsts AS (
                    SELECT source_url, min(id) AS first FROM items WHERE job_id = $1 GROUP BY source_url HAVING count(*) > 1
                ), marked AS (
                    UPDATE items i SET same_as = f.first FROM firsts f
                    WHERE i.job_id = $1 AND i.source_url = f.source_url AND i.id <> f.first RETURNING i.id
                ), counted AS (
                    UPDATE jobs SET distinct_count = $2 - (SELECT count(*) FROM marked) WHERE id = $1
                )
                SELECT id FROM marked
                """, [String(jobID), String(items.count)])
            let following = Set(followers.rows.compactMap { $0[0].flatMap { Int64($0) } })
            try connection.query("INSERT INTO events (job_id, stage, status) VALUES ($1, 'ingest', 'queued')", [String(jobID)])
            try connection.query("""
                INSERT INTO events (job_id, item_id, stage, status)
                SELECT job_id, id, 'ingest', 'pending' FROM items WHERE job_id = $1 ORDER BY id
                """, [String(jobID)])
            let downloads = (0..<inserted.count).compactMap { row -> QueuedItem? in
                guard let id = inserted.int(row, "id"), !following.contains(id) else { return nil }
                return QueuedItem(id: id, rowNumber: Int(inserted.int(row, "row_number") ?? 0), position: Int(inserted.int(row, "position") ?? 0),
                                  sourceURL: inserted.value(row, "source_url") ?? "")
            }
            return CreatedJob(id: jobID, reference: reference, downloads: downloads)
        }
    }

    /// Jobs at least this big may change the items table enough to make its statistics wrong.
    static let bulkInsertRows = 1_000

    /// After a job of `added` images: analyzes the items table when they are 1,000 or more and a
    /// tenth of it or more, as after any bulk load. The settle statements keep their plans per
    /// connection, made from the statistics of the moment; a big job landing in a small table would
    /// be settled with whole-table scans until autovacuum next analyzed it (a minute or more).
    /// ANALYZE replaces those plans at once.
    public func refreshItemStatistics(afterAdding added: Int) async throws {
        guard added >= Self.bulkInsertRows else { return }
        try await pool.withConnection { connection in
            // reltuples is -1 until the table is first analyzed.
            let rows = try connection.query("SELECT reltuples FROM pg_class WHERE oid = 'items'::regclass")
                .value(0, "reltuples").flatMap(Double.init) ?? -1
            if rows < 0 || Double(added) * 10 >= rows { try connection.query("ANALYZE items") }
        }
    }

    public func item(_ id: Int64) async throws -> ItemRecord? {
        try await pool.withConnection { connection in
            let rows = try connection.query("""
                SELECT i.id, i.job_id, j.reference, i.row_number, i.serial_number, i.position, i.source_url, i.status,
                       i.format, i.raw_key, i.output_name, i.error_code, i.attempts
                FROM items i JOIN jobs j ON j.id = i.job_id WHERE i.id = $1
                """, [String(id)])
            guard rows.count == 1, let reference = rows.value(0, "reference").flatMap(JobReference.init),
                  let status = rows.value(0, "status").flatMap(ItemStatus.init(rawValue:)) else { return nil }
            return ItemRecord(id: id, jobID: rows.int(0, "job_id")!, jobReference: reference,
                              rowNumber: Int(rows.int(0, "row_number")!), serialNumber: rows.int(0, "serial_number")!,
                              position: Int(rows.int(0, "position")!), sourceURL: rows.value(0, "source_url")!,
                              status: status, format: rows.value(0, "format"), rawKey: rows.value(0, "raw_key"),
                              outputName: rows.value(0, "output_name"), errorCode: rows.value(0, "error_code"),
                              attempts: Int(rows.int(0, "attempts") ?? 0))
        }
    }

    /// pending → downloaded. Returns false when the item was not pending (a redelivery).
    public func markDownloaded(itemID: Int64, jobID: Int64, format: String, rawKey: String, bytes: Int) async throws -> Bool {
        try await settles.downloads.submit(DownloadedItem(id: itemID, format: format, rawKey: rawKey, bytes: bytes))
    }

    /// pending|downloaded → resized|failed, with every item that follows it (same URL), counting
    /// the job's remaining images down: one statement (a resize shares it with others).
    public func settleItem(itemID: Int64, jobID: Int64, outcome: ItemOutcome, stage: Stage) async throws -> Settlement {
        switch outcome {
        case .resized(let record):
            return try await settles.resizes.submit(ResizedItem(id: itemID, jobID: jobID, record: record, stage: stage))
        case .failed(let error):
            return try await pool.withConnection { connection in
                // A download that fails is one more attempt at the supplier.
                let result = try connection.execute(SettleStatements.failed, [
                    String(itemID), error.code.rawValue, error.message, stage == .downloader ? "true" : "false", String(jobID), stage.rawValue])
                guard result.int(0, "applied") == 1 else {
                    return Settlement(applied: false, jobReadyForCSV: Self.awaitsOutput(remaining: result.int(0, "job_remaining"),
                                                                                         status: result.value(0, "job_status")))
                }
                return Settlement(applied: true, jobReadyForCSV: result.int(0, "remaining") == 0)
            }
        }
    }

    /// True when every image of the job has settled and its output is not written yet.
    public func awaitsOutput(jobID: Int64) async throws -> Bool {
        try await pool.withConnection { connection in
            let job = try connection.query("SELECT remaining, status FROM jobs WHERE id = $1", [String(jobID)])
            return Self.awaitsOutput(remaining: job.int(0, "remaining"), status: job.value(0, "status"))
        }
    }

    /// A job's `remaining` and `status` say every image has settled and the output is not written.
    static func awaitsOutput(remaining: Int64?, status: String?) -> Bool {
        remaining == 0 && status.flatMap(JobStatus.init(rawValue:)).map { !$0.isFinal } == true
    }

    /// processing → writing. Returns nil when the job is already final (a redelivery) or not settled.
    public func beginWriting(jobID: Int64) async throws -> JobForWriting? {
        try await pool.transaction { connection in
            let moved = try connection.query("""
                UPDATE jobs SET status = 'writing', updated_at = now()
                WHERE id = $1 AND status IN ('queued', 'processing') AND remaining = 0 RETURNING id
                """, [String(jobID)])
            if moved.count == 1 {
                try Self.appendEvent(connection, jobID: jobID, itemID: nil, stage: .csvWriter, status: JobStatus.writing.rawValue)
            }
            let job = try connection.query("SELECT reference, status, input_key, remaining FROM jobs WHERE id = $1", [String(jobID)])
            guard job.count == 1, job.value(0, "status") == JobStatus.writing.rawValue,
                  let reference = job.value(0, "reference").flatMap(JobReference.init),
                  let inputKey = job.value(0, "input_key") else { return nil }
            return JobForWriting(id: jobID, reference: reference, inputKey: inputKey)
        }
    }

    /// The output names of a job's first few resized images, for the status page's thumbnails.
    public func sampleOutputNames(jobID: Int64, limit: Int) async throws -> [String] {
        try await pool.withConnection { connection in
            try connection.query("""
                SELECT output_name FROM items WHERE job_id = $1 AND status = 'resized' AND output_name IS NOT NULL
                ORDER BY row_number, position LIMIT $2
                """, [String(jobID), String(limit)]).rows.compactMap { $0[0] }
        }
    }

    public func itemsForOutput(jobID: Int64) async throws -> [WrittenItem] {
        try await pool.withConnection { connection in
            let rows = try connection.query("""
                SELECT row_number, position, status, output_name FROM items WHERE job_id = $1 ORDER BY row_number, position
                """, [String(jobID)])
            return (0..<rows.count).map { index in
                WrittenItem(rowNumber: Int(rows.int(index, "row_number")!), position: Int(rows.int(index, "position")!),
                            status: ItemStatus(rawValue: rows.value(index, "status")!) ?? .failed,
                            outputName: rows.value(index, "output_name"))
            }
        }
    }

    /// writing → completed | completed_with_errors | failed, decided by the items' outcomes. Nil
    /// when the job was not writing (a redelivery).
    @discardableResult
    public func finishJob(jobID: Int64, outputKey: String) async throws -> FinishedJob? {
        try await pool.transaction { connection in
            let counts = try connection.query("""
                SELECT count(*) FILTER (WHERE status = 'resized') AS resized, count(*) FILTER (WHERE status = 'failed') AS failed
                FROM items WHERE job_id = $1
                """, [String(jobID)])
            let status = JobStatus.final(resized: Int(counts.int(0, "resized") ?? 0), failed: Int(counts.int(0, "failed") ?? 0))
            let moved = try connection.query("""
                UPDATE jobs SET status = $2, output_key = $3, updated_at = now(), finished_at = now(), \(Self.webhookDue)
                WHERE id = $1 AND status = 'writing' RETURNING reference, webhook_url IS NOT NULL AS notifies
                """, [String(jobID), status.rawValue, outputKey])
            guard let finished = Self.finishedJob(moved, id: jobID, status: status) else { return nil }
            try Self.appendEvent(connection, jobID: jobID, itemID: nil, stage: .csvWriter, status: status.rawValue)
            return finished
        }
    }

    /// Any non-final status → failed, for a job that cannot go on (its messages could not be sent).
    /// Nil when the job was already final.
    @discardableResult
    public func failJob(jobID: Int64, stage: Stage, error: HalfsizeError) async throws -> FinishedJob? {
        try await pool.transaction { connection in
            let moved = try connection.query("""
                UPDATE jobs SET status = 'failed', error_code = $2, error_message = $3, updated_at = now(), finished_at = now(),
                       \(Self.webhookDue)
                WHERE id = $1 AND status IN ('queued', 'processing', 'writing') RETURNING reference, webhook_url IS NOT NULL AS notifies
                """, [String(jobID), error.code.rawValue, error.message])
            guard let finished = Self.finishedJob(moved, id: jobID, status: .failed) else { return nil }
            try Self.appendEvent(connection, jobID: jobID, itemID: nil, stage: stage, status: JobStatus.failed.rawValue, error: error)
            return finished
        }
    }

    /// The assignments that make a finishing job's webhook due at once (each finish, a retried
    /// job's too, gets its own round of attempts).
    static let webhookDue = """
        webhook_state = CASE WHEN webhook_url IS NULL THEN NULL ELSE 'pending' END, webhook_attempts = 0, webhook_next_at = now()
        """

    static func finishedJob(_ moved: QueryRows, id: Int64, status: JobStatus) -> FinishedJob? {
        guard moved.count == 1, let reference = moved.value(0, "reference").flatMap(JobReference.init) else { return nil }
        return FinishedJob(id: id, reference: reference, status: status, notifies: moved.value(0, "notifies") == "t")
    }

    // MARK: - Shared steps

    static func appendEvent(_ connection: PostgresConnection, jobID: Int64, itemID: Int64?, stage: Stage, status: String,
                            error: HalfsizeError? = nil, note: String? = nil) throws {
        try connection.query("""
            INSERT INTO events (job_id, item_id, stage, status, error_code, message) VALUES ($1, $2, $3, $4, $5, $6)
            """, [String(jobID), itemID.map(String.init), stage.rawValue, status, error?.code.rawValue, error?.message ?? note])
    }
}
