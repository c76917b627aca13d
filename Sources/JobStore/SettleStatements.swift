/// The statements every image passes through, each one round trip and prepared once per
/// connection: the item's change (only from the status it expects, so a redelivery changes
/// nothing), the items that follow it (same URL), the job's counts, the job's first move to
/// `processing`, and the events, together. The job's row is locked (`FOR UPDATE`) before it is
/// read, so its status before the change is the one the change applies to.
enum SettleStatements {
    /// `job` locks the job row when the item moved; `counted` applies `changes` and marks the job
    /// processing; the select reports whether the item moved and the job's remaining count.
    private static func statement(_ name: String, moved: String, followers: String? = nil, jobParameter: String,
                                  changes: String, events: String) -> PreparedStatement {
        PreparedStatement(name, """
            WITH \(moved),
            \(followers.map { "followers AS (\($0))," } ?? "")
            job AS (
                SELECT j.id, j.status AS before FROM jobs j WHERE j.id = \(jobParameter) AND EXISTS (SELECT 1 FROM moved) FOR UPDATE
            ), counted AS (
                UPDATE jobs j SET \(changes),
                    status = CASE WHEN j.status = 'queued' THEN 'processing' ELSE j.status END, updated_at = now()
                FROM job WHERE j.id = job.id RETURNING j.remaining, job.before
            ), logged AS (
                INSERT INTO events (job_id, item_id, stage, status, error_code, message)
                \(events)
            )
            SELECT (SELECT count(*) FROM moved) AS applied, (SELECT remaining FROM counted) AS remaining,
                   j.remaining AS job_remaining, j.status AS job_status
            FROM jobs j WHERE j.id = \(jobParameter)
            """)
    }

    /// pending → downloaded. $1 item, $2 format, $3 raw key, $4 bytes, $5 job.
    static let downloaded = statement(
        "item_downloaded",
        moved: """
            moved AS (
                UPDATE items SET status = 'downloaded', format = $2, raw_key = $3, bytes_in = $4, attempts = attempts + 1,
                    next_attempt_at = NULL, updated_at = now()
                WHERE id = $1 AND status = 'pending' RETURNING id, job_id)
            """,
        jobParameter: "$5",
        changes: """
            downloaded_count = j.downloaded_count + 1,
            formats = jsonb_set(j.formats, ARRAY[$2::text], to_jsonb(coalesce((j.formats ->> $2::text)::int, 0) + 1))
            """,
        events: """
            SELECT job_id, id, 'downloader', 'downloaded', NULL, NULL FROM moved
            UNION ALL SELECT $5, NULL, 'downloader', 'processing', NULL, NULL FROM counted WHERE before = 'queued'
            """)

    /// downloaded → resized. $1 item, $2 output key, $3 output name, $4 bytes in, $5 bytes out,
    /// $6–$9 sizes, $10 grew, $11 job, $12 stage. Followers take the same output.
    static let resized = statement(
        "item_resized",
        moved: """
            moved AS (
                UPDATE items SET status = 'resized', output_key = $2, output_name = $3, bytes_in = $4, bytes_out = $5,
                    width_in = $6, height_in = $7, width_out = $8, height_out = $9, grew = $10, updated_at = now()
                WHERE id = $1 AND status = 'downloaded' RETURNING id, job_id)
            """,
        followers: """
            UPDATE items f SET status = 'resized', output_key = $2, output_name = $3,
                width_in = $6, height_in = $7, width_out = $8, height_out = $9, updated_at = now()
            FROM moved WHERE f.same_as = moved.id AND f.status = 'pending' RETURNING f.id, f.job_id
            """,
        jobParameter: "$11",
        changes: """
            remaining = j.remaining - 1 - (SELECT count(*) FROM followers),
            downloaded_count = j.downloaded_count - 1,
            resized_count = j.resized_count + 1 + (SELECT count(*) FROM followers),
            bytes_in = j.bytes_in + $4, bytes_out = j.bytes_out + $5,
            grew_count = j.grew_count + CASE WHEN $10::boolean THEN 1 ELSE 0 END
            """,
        events: """
            SELECT job_id, id, $12, 'resized', NULL, NULL FROM moved
            UNION ALL SELECT job_id, id, $12, 'resized', NULL, 'the same URL as item ' || $1 FROM followers
            UNION ALL SELECT $11, NULL, $12, 'processing', NULL, NULL FROM counted WHERE before = 'queued'
            """)

    /// pending|downloaded → failed. $1 item, $2 code, $3 message, $4 counts as a download
    /// attempt, $5 job, $6 stage. Followers fail with the same error.
    static let failed = statement(
        "item_failed",
        moved: """
            was AS (SELECT id, status FROM items WHERE id = $1 AND status IN ('pending', 'downloaded') FOR UPDATE),
            moved AS (
                UPDATE items i SET status = 'failed', error_code = $2, error_message = $3, next_attempt_at = NULL,
                    attempts = i.attempts + CASE WHEN $4::boolean THEN 1 ELSE 0 END, updated_at = now()
                FROM was WHERE i.id = was.id RETURNING i.id, i.job_id, was.status AS was)
            """,
        followers: """
            UPDATE items f SET status = 'failed', error_code = $2, error_message = $3, updated_at = now()
            FROM moved WHERE f.same_as = moved.id AND f.status = 'pending' RETURNING f.id, f.job_id
            """,
        jobParameter: "$5",
        changes: """
            remaining = j.remaining - 1 - (SELECT count(*) FROM followers),
            downloaded_count = j.downloaded_count - (SELECT count(*) FROM moved WHERE was = 'downloaded'),
            failed_count = j.failed_count + 1 + (SELECT count(*) FROM followers)
            """,
        events: """
            SELECT job_id, id, $6, 'failed', $2, $3 FROM moved
            UNION ALL SELECT job_id, id, $6, 'failed', $2, $3 FROM followers
            UNION ALL SELECT $5, NULL, $6, 'processing', NULL, NULL FROM counted WHERE before = 'queued'
            """)
}
