/// The statements every image passes through, each one round trip and prepared once per
/// connection: the item's change (only from the status it expects, so a redelivery changes
/// nothing), the items that follow it (same URL), the job's counts, the job's first move to
/// `processing`, and the events, together. A job's row is locked (`FOR UPDATE`) before it is read,
/// so its status before the change is the one the change applies to. Downloads and resizes are
/// settled many images at a time (`StatementBatcher`): their parameters are arrays, one element an
/// image; the counts are summed per job, and a job's counts are read from the row being updated,
/// so a concurrent batch's changes are never overwritten.
///
/// A connection plans each statement once and keeps the plan, often from when the tables were
/// small; the items are therefore found through an index on `= ANY($1)` (a join with the input
/// alone was planned as a scan of the whole table), and the status an item must have is a column
/// of the materialized input, not a constant (from a constant the planner proves the partial
/// index `items_unsettled` usable and reads every unsettled item of the table).
enum SettleStatements {
    /// `job` locks the rows of the jobs whose items moved (in id order, so two statements never
    /// wait on each other in a cycle); `counted` applies `changes` and marks the job processing.
    private static func statement(_ name: String, input: String? = nil, moved: String, followers: String? = nil,
                                  changes: String, changedFrom: String = "", events: String, result: String) -> PreparedStatement {
        PreparedStatement(name, """
            WITH \(input.map { "input AS MATERIALIZED (\($0))," } ?? "")
            \(moved),
            \(followers.map { "followers AS (\($0))," } ?? "")
            job AS (
                SELECT j.id, j.status AS before FROM jobs j WHERE j.id IN (SELECT job_id FROM moved) ORDER BY j.id FOR UPDATE
            ), counted AS (
                UPDATE jobs j SET \(changes),
                    status = CASE WHEN j.status = 'queued' THEN 'processing' ELSE j.status END, updated_at = now()
                FROM job \(changedFrom) WHERE j.id = job.id RETURNING j.id, j.remaining, j.status, job.before
            ), logged AS (
                INSERT INTO events (job_id, item_id, stage, status, error_code, message)
                \(events)
            )
            \(result)
            """)
    }

    /// pending → downloaded, for many items. $1 items, $2 formats, $3 raw keys, $4 bytes (arrays).
    /// Returns the items that moved.
    static let downloaded = statement(
        "items_downloaded",
        input: """
            SELECT *, 'pending'::text AS expected FROM unnest($1::bigint[], $2::text[], $3::text[], $4::bigint[]) AS i(id, format, raw_key, bytes)
            """,
        moved: """
            moved AS (
                UPDATE items it SET status = 'downloaded', format = i.format, raw_key = i.raw_key, bytes_in = i.bytes,
                    attempts = it.attempts + 1, next_attempt_at = NULL, updated_at = now()
                FROM input i WHERE it.id = ANY($1::bigint[]) AND it.id = i.id AND it.status = i.expected
                RETURNING it.id, it.job_id, it.format)
            """,
        changes: """
            downloaded_count = j.downloaded_count + (SELECT count(*) FROM moved m WHERE m.job_id = j.id),
            formats = j.formats || (SELECT jsonb_object_agg(f.format, coalesce((j.formats ->> f.format)::int, 0) + f.n)
                                    FROM (SELECT format, count(*) AS n FROM moved m WHERE m.job_id = j.id GROUP BY format) f)
            """,
        events: """
            SELECT job_id, id, 'downloader', 'downloaded', NULL, NULL FROM moved
            UNION ALL SELECT id, NULL, 'downloader', 'processing', NULL, NULL FROM counted WHERE before = 'queued'
            """,
        result: "SELECT id FROM moved")

    /// downloaded → resized, for many items; followers take the same output. $1 items, $2 output
    /// keys, $3 output names, $4 bytes in, $5 bytes out, $6–$9 sizes, $10 grew, $11 stages (arrays),
    /// $12 the items' jobs. Returns rows `moved` (an item that moved) and `job` (every job of $12:
    /// its remaining images and status after the change).
    static let resized = statement(
        "items_resized",
        input: """
            SELECT *, 'downloaded'::text AS expected, 'pending'::text AS expected_of_followers
            FROM unnest($1::bigint[], $2::text[], $3::text[], $4::bigint[], $5::bigint[], $6::int[], $7::int[], $8::int[],
                                 $9::int[], $10::boolean[], $11::text[])
                AS i(id, output_key, output_name, bytes_in, bytes_out, width_in, height_in, width_out, height_out, grew, stage)
            """,
        moved: """
            moved AS (
                UPDATE items it SET status = 'resized', output_key = i.output_key, output_name = i.output_name,
                    bytes_in = i.bytes_in, bytes_out = i.bytes_out, width_in = i.width_in, height_in = i.height_in,
                    width_out = i.width_out, height_out = i.height_out, grew = i.grew, updated_at = now()
                FROM input i WHERE it.id = ANY($1::bigint[]) AND it.id = i.id AND it.status = i.expected
                RETURNING it.id, it.job_id, i.bytes_in, i.bytes_out, i.grew, i.stage)
            """,
        followers: """
            UPDATE items f SET status = 'resized', output_key = i.output_key, output_name = i.output_name,
                width_in = i.width_in, height_in = i.height_in, width_out = i.width_out, height_out = i.height_out, updated_at = now()
            FROM moved m JOIN input i ON i.id = m.id WHERE f.same_as = ANY($1::bigint[]) AND f.same_as = m.id AND f.status = i.expected_of_followers
            RETURNING f.id, f.job_id, f.same_as, m.stage
            """,
        changes: """
            remaining = j.remaining - s.settled, downloaded_count = j.downloaded_count - s.moved,
            resized_count = j.resized_count + s.settled, bytes_in = j.bytes_in + s.bytes_in, bytes_out = j.bytes_out + s.bytes_out,
            grew_count = j.grew_count + s.grew
            """,
        changedFrom: """
            JOIN (SELECT job_id, sum(moved) AS moved, count(*) AS settled, sum(bytes_in) AS bytes_in, sum(bytes_out) AS bytes_out,
                         sum(grew) AS grew
                  FROM (SELECT job_id, 1 AS moved, bytes_in, bytes_out, CASE WHEN grew THEN 1 ELSE 0 END AS grew FROM moved
                        UNION ALL SELECT job_id, 0, 0, 0, 0 FROM followers) settled
                  GROUP BY job_id) s ON s.job_id = job.id
            """,
        events: """
            SELECT job_id, id, stage, 'resized', NULL, NULL FROM moved
            UNION ALL SELECT job_id, id, stage, 'resized', NULL, 'the same URL as item ' || same_as FROM followers
            UNION ALL SELECT id, NULL, (SELECT min(stage) FROM moved), 'processing', NULL, NULL FROM counted WHERE before = 'queued'
            """,
        result: """
            SELECT 'moved' AS kind, id, NULL::int AS remaining, NULL::text AS status FROM moved
            UNION ALL SELECT 'job', id, remaining, status FROM counted
            UNION ALL SELECT 'job', j.id, j.remaining, j.status FROM jobs j
                WHERE j.id = ANY($12::bigint[]) AND j.id NOT IN (SELECT id FROM counted)
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
        changes: """
            remaining = j.remaining - 1 - (SELECT count(*) FROM followers),
            downloaded_count = j.downloaded_count - (SELECT count(*) FROM moved WHERE was = 'downloaded'),
            failed_count = j.failed_count + 1 + (SELECT count(*) FROM followers)
            """,
        events: """
            SELECT job_id, id, $6, 'failed', $2, $3 FROM moved
            UNION ALL SELECT job_id, id, $6, 'failed', $2, $3 FROM followers
            UNION ALL SELECT id, NULL, $6, 'processing', NULL, NULL FROM counted WHERE before = 'queued'
            """,
        result: """
            SELECT (SELECT count(*) FROM moved) AS applied, (SELECT remaining FROM counted) AS remaining,
                   j.remaining AS job_remaining, j.status AS job_status
            FROM jobs j WHERE j.id = $5
            """)
}
