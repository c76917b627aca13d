import Logging

/// Versioned schema changes, applied in order at start-up under an advisory lock so that several
/// processes starting at once apply each exactly once. Append new versions; never edit old ones.
public enum Migrations {
    public struct Migration: Sendable {
        public var version: Int
        public var name: String
        public var sql: String
    }

    /// The advisory lock key: "halfsize" in ASCII, as a bigint.
    static let lockKey = "7521983868604672613"

    public static let all: [Migration] = [
        Migration(version: 1, name: "jobs, items and events", sql: """
            CREATE TABLE jobs (
                id              bigserial PRIMARY KEY,
                reference       text NOT NULL UNIQUE,
                status          text NOT NULL CHECK (status IN
                                ('queued','processing','writing','completed','completed_with_errors','failed')),
                input_filename  text,
                input_key       text NOT NULL,
                row_count       integer NOT NULL,
                image_count     integer NOT NULL,
                remaining       integer NOT NULL CHECK (remaining >= 0),
                output_key      text,
                error_code      text,
                error_message   text,
                created_at      timestamptz NOT NULL DEFAULT now(),
                updated_at      timestamptz NOT NULL DEFAULT now(),
                finished_at     timestamptz
            );
            CREATE TABLE items (
                id              bigserial PRIMARY KEY,
                job_id          bigint NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
                row_number      integer NOT NULL,
                serial_number   bigint NOT NULL,
                position        integer NOT NULL,
                source_url      text NOT NULL,
                status          text NOT NULL CHECK (status IN ('pending','downloaded','resized','failed')),
                format          text,
                raw_key         text,
                output_key      text,
                output_name     text,
                bytes_in        bigint,
                bytes_out       bigint,
                width_in        integer,
                height_in       integer,
                width_out       integer,
                height_out      integer,
                grew            boolean,
                error_code      text,
                error_message   text,
                updated_at      timestamptz NOT NULL DEFAULT now(),
                UNIQUE (job_id, row_number, position)
            );
            CREATE TABLE events (
                id              bigserial PRIMARY KEY,
                job_id          bigint NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
                item_id         bigint REFERENCES items(id) ON DELETE CASCADE,
                stage           text NOT NULL,
                status          text NOT NULL,
                error_code      text,
                message         text,
                at              timestamptz NOT NULL DEFAULT clock_timestamp()
            );
            CREATE INDEX events_by_job ON events (job_id, id);
            CREATE INDEX events_by_item ON events (item_id) WHERE item_id IS NOT NULL;
            """),
        Migration(version: 2, name: "attempts, dead letters and the job outbox", sql: """
            ALTER TABLE items
                ADD COLUMN attempts           integer NOT NULL DEFAULT 0,
                ADD COLUMN last_error_code    text,
                ADD COLUMN last_error_message text,
                ADD COLUMN next_attempt_at    timestamptz;
            -- published_at is the outbox: NULL until the job's download messages are confirmed.
            ALTER TABLE jobs ADD COLUMN published_at timestamptz;
            UPDATE jobs SET published_at = created_at;
            CREATE INDEX jobs_unpublished ON jobs (created_at) WHERE published_at IS NULL;
            CREATE INDEX jobs_unfinished ON jobs (updated_at) WHERE status IN ('queued', 'processing', 'writing');
            CREATE INDEX items_unsettled ON items (job_id) WHERE status IN ('pending', 'downloaded');
            CREATE TABLE dead_letters (
                id          bigserial PRIMARY KEY,
                job_id      bigint REFERENCES jobs(id) ON DELETE CASCADE,
                item_id     bigint REFERENCES items(id) ON DELETE CASCADE,
                queue       text,
                reason      text,
                body        text NOT NULL,
                at          timestamptz NOT NULL DEFAULT clock_timestamp()
            );
            """),
        Migration(version: 3, name: "file retention", sql: """
            -- Set when the retention sweeper removed the job's files; the job's row stays.
            ALTER TABLE jobs ADD COLUMN files_expired_at timestamptz;
            CREATE INDEX jobs_files_kept ON jobs (finished_at) WHERE finished_at IS NOT NULL AND files_expired_at IS NULL;
            """),
        Migration(version: 4, name: "webhooks", sql: """
            -- webhook_state is NULL without a webhook, 'pending' from the moment the job is final until
            -- the receiver took it ('delivered') or the attempts ran out ('failed'). webhook_next_at is
            -- when the next attempt is due, or how long a claimed attempt is leased.
            ALTER TABLE jobs
                ADD COLUMN webhook_url      text,
                ADD COLUMN webhook_state    text CHECK (webhook_state IN ('pending', 'delivered', 'failed')),
                ADD COLUMN webhook_attempts integer NOT NULL DEFAULT 0,
                ADD COLUMN webhook_next_at  timestamptz;
            CREATE INDEX jobs_webhook_pending ON jobs (webhook_next_at) WHERE webhook_state = 'pending';
            CREATE TABLE webhook_attempts (
                id            bigserial PRIMARY KEY,
                job_id        bigint NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
                attempt       integer NOT NULL,
                status_code   integer,
                error_code    text,
                error_message text,
                duration_ms   integer NOT NULL,
                at            timestamptz NOT NULL DEFAULT clock_timestamp()
            );
            CREATE INDEX webhook_attempts_by_job ON webhook_attempts (job_id, id);
            """),
        Migration(version: 5, name: "counts kept on the job, one download per distinct URL", sql: """
            -- A row whose URL an earlier row of the same job already names follows that item
            -- (same_as): it is not downloaded or halved itself, and settles with it.
            ALTER TABLE items ADD COLUMN same_as bigint REFERENCES items(id) ON DELETE CASCADE;
            CREATE INDEX items_followers ON items (same_as) WHERE same_as IS NOT NULL;
            -- Counts kept as images settle, so a status request reads one row whatever the job's size.
            ALTER TABLE jobs
                ADD COLUMN distinct_count   integer NOT NULL DEFAULT 0,
                ADD COLUMN downloaded_count integer NOT NULL DEFAULT 0,
                ADD COLUMN resized_count    integer NOT NULL DEFAULT 0,
                ADD COLUMN failed_count     integer NOT NULL DEFAULT 0,
                ADD COLUMN grew_count       integer NOT NULL DEFAULT 0,
                ADD COLUMN bytes_in         bigint NOT NULL DEFAULT 0,
                ADD COLUMN bytes_out        bigint NOT NULL DEFAULT 0,
                ADD COLUMN formats          jsonb NOT NULL DEFAULT '{}';
            -- The counts from the items, for the jobs before this migration and after a retry.
            CREATE FUNCTION halfsize_recount(bigint) RETURNS void LANGUAGE sql AS $$
                UPDATE jobs j SET distinct_count = c.distinct_count, downloaded_count = c.downloaded, resized_count = c.resized,
                    failed_count = c.failed, grew_count = c.grew, bytes_in = c.bytes_in, bytes_out = c.bytes_out,
                    formats = coalesce((SELECT jsonb_object_agg(format, n) FROM (
                        SELECT format, count(*) AS n FROM items WHERE job_id = $1 AND format IS NOT NULL GROUP BY format) f), '{}')
                FROM (SELECT count(*) FILTER (WHERE same_as IS NULL) AS distinct_count,
                             count(*) FILTER (WHERE status = 'downloaded') AS downloaded,
                             count(*) FILTER (WHERE status = 'resized') AS resized,
                             count(*) FILTER (WHERE status = 'failed') AS failed,
                             count(*) FILTER (WHERE grew) AS grew,
                             coalesce(sum(bytes_in) FILTER (WHERE status = 'resized'), 0) AS bytes_in,
                             coalesce(sum(bytes_out) FILTER (WHERE status = 'resized'), 0) AS bytes_out
                      FROM items WHERE job_id = $1) c
                WHERE j.id = $1
            $$;
            SELECT halfsize_recount(id) FROM jobs;
            -- The status API's lists, found without reading a big job's other images.
            CREATE INDEX items_failed_by_job ON items (job_id, row_number, position) WHERE status = 'failed';
            CREATE INDEX items_retrying_by_job ON items (job_id, row_number, position)
                WHERE status = 'pending' AND last_error_code IS NOT NULL;
            CREATE INDEX items_grown_by_job ON items (job_id, row_number, position) WHERE grew;
            """),
    ]

    /// Applies every migration the database lacks. Safe to run from many processes at once.
    public static func apply(on pool: DatabasePool, logger: Logger) async throws {
        let applied = try await pool.withConnection { connection -> [Int] in
            try connection.query("SELECT pg_advisory_lock(\(lockKey))")
            defer { _ = try? connection.query("SELECT pg_advisory_unlock(\(lockKey))") }
            try connection.query("""
                CREATE TABLE IF NOT EXISTS schema_migrations (
                    version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())
                """)
            let existing = Set(try connection.query("SELECT version FROM schema_migrations").rows.compactMap { $0[0].flatMap { Int($0) } })
            var newlyApplied: [Int] = []
            for migration in all where !existing.contains(migration.version) {
                try connection.transaction { connection in
                    try connection.runScript(migration.sql)
                    try connection.query("INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
                                         [String(migration.version), migration.name])
                }
                newlyApplied.append(migration.version)
            }
            return newlyApplied
        }
        if applied.isEmpty {
            logger.debug("database schema is current", metadata: ["version": "\(all.last?.version ?? 0)"])
        } else {
            logger.info("applied database migrations", metadata: ["versions": "\(applied)"])
        }
    }
}
