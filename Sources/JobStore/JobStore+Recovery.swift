import Foundation
import HalfsizeCore

/// A job created but not yet published, or whose work stopped moving: what the relay and the
/// reaper send again.
public struct StrandedWork: Sendable, Equatable {
    public var jobID: Int64
    public var reference: JobReference
    /// Items to send to `halfsize.download` (pending) and `halfsize.resize` (downloaded).
    public var pendingItemIDs: [Int64]
    public var downloadedItemIDs: [Int64]
    /// Every image settled but the output was never written: send to `halfsize.csv`.
    public var awaitsOutput: Bool
}

extension JobStore {
    /// True when a job with this reference exists (after a COMMIT whose reply was lost).
    public func jobExists(_ reference: JobReference) async throws -> Bool {
        try await pool.withConnection { connection in
            try connection.query("SELECT 1 FROM jobs WHERE reference = $1", [reference.rawValue]).count == 1
        }
    }

    /// Takes the job out of the outbox once its download messages are confirmed.
    public func markPublished(jobID: Int64) async throws {
        try await pool.withConnection { connection in
            _ = try connection.query("UPDATE jobs SET published_at = now() WHERE id = $1 AND published_at IS NULL", [String(jobID)])
        }
    }

    /// Jobs still in the outbox `olderThan` after they were created: their creator died between
    /// COMMIT and publish, or could not reach the broker. At most `limit`, oldest first.
    public func unpublishedJobs(olderThan age: Duration, limit: Int) async throws -> [StrandedWork] {
        try await pool.withConnection { connection in
            let rows = try connection.query("""
                SELECT j.id, j.reference,
                       coalesce(array_agg(i.id ORDER BY i.id) FILTER (WHERE i.status = 'pending' AND i.same_as IS NULL), '{}') AS pending
                FROM jobs j LEFT JOIN items i ON i.job_id = j.id
                WHERE j.published_at IS NULL AND j.created_at < now() - make_interval(secs => $1)
                  AND j.status IN ('queued', 'processing')
                GROUP BY j.id ORDER BY j.id LIMIT $2
                """, [String(age.inSeconds), String(limit)])
            return rows.rows.compactMap { row in
                guard let id = row[0].flatMap({ Int64($0) }), let reference = row[1].flatMap(JobReference.init) else { return nil }
                return StrandedWork(jobID: id, reference: reference, pendingItemIDs: PostgresArray.integers(row[2]),
                                    downloadedItemIDs: [], awaitsOutput: false)
            }
        }
    }

    /// Published, unfinished jobs in which nothing has moved for `age`: their unsettled items
    /// (not waiting for a scheduled retry), or their output if every image settled. The items
    /// found are touched and get a `reaped` event, so the next pass leaves them for another `age`.
    public func stalledWork(olderThan age: Duration, includingPending: Bool, includingDownloaded: Bool,
                            limit: Int) async throws -> [StrandedWork] {
        try await pool.transaction { connection in
            let seconds = String(age.inSeconds)
            let rows = try connection.query("""
                WITH stalled AS (
                    SELECT j.id FROM jobs j
                    WHERE j.status IN ('queued', 'processing', 'writing') AND j.published_at IS NOT NULL
                      AND j.updated_at < now() - make_interval(secs => $1)
                    ORDER BY j.updated_at LIMIT $2 FOR UPDATE SKIP LOCKED
                ), touched AS (
                    UPDATE items i SET updated_at = now()
                    FROM stalled s
                    WHERE i.job_id = s.id AND i.same_as IS NULL  -- followers settle with the item they follow
                      AND ((i.status = 'pending' AND $3::boolean) OR (i.status = 'downloaded' AND $4::boolean))
                      AND i.updated_at < now() - make_interval(secs => $1)
                      AND (i.next_attempt_at IS NULL OR i.next_attempt_at < now() - make_interval(secs => $1))
                    RETURNING i.id, i.job_id, i.status
                ), events AS (
                    INSERT INTO events (job_id, item_id, stage, status, message)
                    SELECT job_id, id, $5, 'reaped', 'no progress for ' || $1 || ' s; sent to its stage again' FROM touched
                ), bumped AS (
                    UPDATE jobs j SET updated_at = now() FROM stalled s WHERE j.id = s.id RETURNING j.id, j.reference, j.remaining
                )
                SELECT b.id, b.reference, b.remaining,
                       coalesce(array_agg(t.id ORDER BY t.id) FILTER (WHERE t.status = 'pending'), '{}') AS pending,
                       coalesce(array_agg(t.id ORDER BY t.id) FILTER (WHERE t.status = 'downloaded'), '{}') AS downloaded
                FROM bumped b LEFT JOIN touched t ON t.job_id = b.id
                GROUP BY b.id, b.reference, b.remaining ORDER BY b.id
                """, [seconds, String(limit), includingPending ? "true" : "false", includingDownloaded ? "true" : "false",
                   Stage.reaper.rawValue])
            return rows.rows.compactMap { row in
                guard let id = row[0].flatMap({ Int64($0) }), let reference = row[1].flatMap(JobReference.init) else { return nil }
                return StrandedWork(jobID: id, reference: reference, pendingItemIDs: PostgresArray.integers(row[3]),
                                    downloadedItemIDs: PostgresArray.integers(row[4]), awaitsOutput: row[2] == "0")
            }
        }
    }

    /// A supplier answered with a transient failure: counts the attempt, keeps the error on the
    /// item (the status API shows it while the image waits) and when it will be tried again.
    public func recordRetry(itemID: Int64, jobID: Int64, error: HalfsizeError, retryIn delay: Duration) async throws {
        try await pool.withConnection { connection in
            let updated = try connection.query("""
                UPDATE items SET attempts = attempts + 1, last_error_code = $2, last_error_message = $3,
                    next_attempt_at = now() + make_interval(secs => $4), updated_at = now()
                WHERE id = $1 AND status = 'pending' RETURNING attempts
                """, [String(itemID), error.code.rawValue, error.message, String(delay.inSeconds)])
            guard updated.count == 1 else { return }
            try Self.appendEvent(connection, jobID: jobID, itemID: itemID, stage: .downloader, status: "retrying", error: error)
        }
    }

    /// Keeps a dead-lettered message in the `dead_letters` table, for the record.
    public func recordDeadLetter(queue: String?, reason: String?, body: [UInt8], jobID: Int64?, itemID: Int64?) async throws {
        try await pool.withConnection { connection in
            // Only ids that exist are linked; a body naming others is still kept.
            _ = try connection.query("""
                INSERT INTO dead_letters (job_id, item_id, queue, reason, body)
                VALUES ((SELECT id FROM jobs WHERE id = $1), (SELECT id FROM items WHERE id = $2), $3, $4, $5)
                """, [jobID.map(String.init), itemID.map(String.init), queue, reason, String(decoding: body, as: UTF8.self)])
        }
    }
}

/// A finished job whose files have outlived the retention period, and the keys they are under.
public struct ExpiringFiles: Sendable, Equatable {
    public var jobID: Int64
    public var reference: JobReference
    public var keys: [String]
}

extension JobStore {
    /// Finished jobs whose files are older than `retention` and not yet removed, oldest first,
    /// with every key the job wrote: the upload, the output CSV, each original and each image.
    public func expiringFiles(olderThan retention: Duration, limit: Int) async throws -> [ExpiringFiles] {
        try await pool.withConnection { connection in
            let rows = try connection.query("""
                SELECT j.id, j.reference, j.input_key, j.output_key,
                       coalesce(array_agg(i.raw_key) FILTER (WHERE i.raw_key IS NOT NULL), '{}') AS raw_keys,
                       coalesce(array_agg(i.output_key) FILTER (WHERE i.output_key IS NOT NULL), '{}') AS output_keys
                FROM jobs j LEFT JOIN items i ON i.job_id = j.id
                WHERE j.finished_at IS NOT NULL AND j.files_expired_at IS NULL
                  AND j.finished_at < now() - make_interval(secs => $1)
                GROUP BY j.id ORDER BY j.finished_at LIMIT $2
                """, [String(retention.inSeconds), String(limit)])
            return rows.rows.compactMap { row in
                guard let id = row[0].flatMap({ Int64($0) }), let reference = row[1].flatMap(JobReference.init) else { return nil }
                let keys = [row[2], row[3]].compactMap { $0 } + PostgresArray.strings(row[4]) + PostgresArray.strings(row[5])
                return ExpiringFiles(jobID: id, reference: reference, keys: keys)
            }
        }
    }

    /// Records that a job's files are gone (its row, counts and events stay).
    public func markFilesExpired(jobID: Int64) async throws {
        try await pool.transaction { connection in
            let moved = try connection.query("UPDATE jobs SET files_expired_at = now() WHERE id = $1 AND files_expired_at IS NULL RETURNING id",
                                             [String(jobID)])
            if moved.count == 1 {
                try Self.appendEvent(connection, jobID: jobID, itemID: nil, stage: .retention, status: "files_expired")
            }
        }
    }
}

extension PostgresArray {
    /// Parses a PostgreSQL text array literal of keys (`{a/b.jpg,"c d.png"}`); keys never hold
    /// quotes or backslashes, so quoting is only stripped.
    public static func strings(_ literal: String?) -> [String] {
        guard let literal, literal.count > 2 else { return [] }
        return literal.dropFirst().dropLast().split(separator: ",").map { $0.trimmingCharacters(in: CharacterSet(charactersIn: "\"")) }
    }

    /// Parses a PostgreSQL integer array literal such as `{1,2,3}`.
    public static func integers(_ literal: String?) -> [Int64] {
        guard let literal else { return [] }
        return literal.trimmingCharacters(in: CharacterSet(charactersIn: "{}")).split(separator: ",").compactMap { Int64($0) }
    }
}

/// What asking to retry a job's failed images came to.
public enum RetryRequest: Sendable, Equatable {
    case unknownJob
    /// Nothing to retry now, and why (the API answers 409 or 410 with it).
    case refused(HalfsizeError)
    /// The images are pending again and the job is back in the outbox; publish these.
    case retrying(jobID: Int64, itemIDs: [Int64])
}

extension JobStore {
    /// Sends a finished job's failed images round again under the same reference: they become
    /// pending (attempts and errors cleared), the job goes back to processing with them to count
    /// down, unfinished (so retention leaves it alone) and in the outbox (the relay publishes them
    /// if the caller cannot), and an event records the retry. One transaction, the job row locked,
    /// so two retries at once send each image once.
    public func retryFailedImages(reference: JobReference) async throws -> RetryRequest {
        try await pool.transaction { connection in
            let job = try connection.query("SELECT id, status, files_expired_at FROM jobs WHERE reference = $1 FOR UPDATE",
                                           [reference.rawValue])
            guard let jobID = job.int(0, "id") else { return .unknownJob }
            let status = job.value(0, "status").flatMap(JobStatus.init(rawValue:))
            if job.value(0, "files_expired_at") != nil {
                return .refused(HalfsizeError(.filesExpired, "the job's files were removed after the retention period; upload the CSV again"))
            }
            guard let status, JobStatus.retryable.contains(status) else {
                return .refused(HalfsizeError(.notReady, "the job is \(status?.rawValue ?? "unknown"); only a finished job with failed images can be retried"))
            }
            // The format is found again when the image is downloaded again (and counted then).
            let reset = try connection.query("""
                UPDATE items SET status = 'pending', error_code = NULL, error_message = NULL, attempts = 0, format = NULL,
                    last_error_code = NULL, last_error_message = NULL, next_attempt_at = NULL, raw_key = NULL, updated_at = now()
                WHERE job_id = $1 AND status = 'failed' RETURNING id, same_as IS NULL AS downloads
                """, [String(jobID)])
            guard reset.count > 0 else {
                return .refused(HalfsizeError(.notReady, "the job has no failed images to retry"))
            }
            // Followers go back to pending too, and settle again with the item they follow.
            let itemIDs = (0..<reset.count).filter { reset.bool($0, "downloads") == true }.compactMap { reset.int($0, "id") }.sorted()
            try connection.query("""
                UPDATE jobs SET status = 'processing', remaining = remaining + $2, published_at = NULL, finished_at = NULL,
                    error_code = NULL, error_message = NULL, updated_at = now(),
                    webhook_state = NULL, webhook_next_at = NULL  -- the next finish starts a new round
                WHERE id = $1
                """, [String(jobID), String(reset.count)])
            try connection.query("SELECT halfsize_recount($1)", [String(jobID)])
            try Self.appendEvent(connection, jobID: jobID, itemID: nil, stage: .ingest, status: "retried",
                                 note: "\(itemIDs.count) failed image(s) sent again")
            return .retrying(jobID: jobID, itemIDs: itemIDs)
        }
    }
}
